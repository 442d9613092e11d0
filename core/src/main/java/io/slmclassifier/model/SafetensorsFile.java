package io.slmclassifier.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.MappedByteBuffer;
import java.nio.ShortBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Collections;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Reader of one {@code .safetensors} file: an 8-byte little-endian header length, a JSON header naming each
 * tensor's dtype, shape and byte range, then the raw data. Tensors are memory-mapped one at a time and
 * converted to float32 on the fly (BF16 by bit shift, F16 by IEEE rules), so a model is never held twice.
 */
public final class SafetensorsFile implements AutoCloseable {

    /** One tensor entry of the header. Offsets are relative to the start of the data section. */
    public record TensorInfo(String name, String dtype, long[] shape, long begin, long end) {
        public long elements() {
            long n = 1;
            for (long d : shape) {
                n *= d;
            }
            return n;
        }
    }

    private final Path path;
    private final FileChannel channel;
    private final long dataStart;
    private final Map<String, TensorInfo> tensors;
    private final Map<String, String> metadata;

    private SafetensorsFile(Path path, FileChannel channel, long dataStart, Map<String, TensorInfo> tensors,
            Map<String, String> metadata) {
        this.path = path;
        this.channel = channel;
        this.dataStart = dataStart;
        this.tensors = tensors;
        this.metadata = metadata;
    }

    public static SafetensorsFile open(Path path) throws IOException {
        FileChannel channel = FileChannel.open(path, StandardOpenOption.READ);
        try {
            ByteBuffer lengthBytes = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
            readFully(channel, lengthBytes, 0);
            long headerLength = lengthBytes.flip().getLong();
            if (headerLength <= 0 || headerLength > 100_000_000 || 8 + headerLength > channel.size()) {
                throw new ModelLoadException(path + " is not a safetensors file (header length " + headerLength + ")");
            }
            ByteBuffer header = ByteBuffer.allocate((int) headerLength);
            readFully(channel, header, 8);
            JsonNode json = new ObjectMapper().readTree(new String(header.array(), StandardCharsets.UTF_8));
            Map<String, TensorInfo> tensors = new LinkedHashMap<>();
            Map<String, String> metadata = new LinkedHashMap<>();
            long dataLength = channel.size() - 8 - headerLength;
            for (Iterator<Map.Entry<String, JsonNode>> it = json.fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> e = it.next();
                if (e.getKey().equals("__metadata__")) {
                    e.getValue().fields().forEachRemaining(m -> metadata.put(m.getKey(), m.getValue().asText()));
                    continue;
                }
                JsonNode t = e.getValue();
                long[] shape = new long[t.get("shape").size()];
                for (int i = 0; i < shape.length; i++) {
                    shape[i] = t.get("shape").get(i).asLong();
                }
                TensorInfo info = new TensorInfo(e.getKey(), t.get("dtype").asText(), shape,
                        t.get("data_offsets").get(0).asLong(), t.get("data_offsets").get(1).asLong());
                if (info.end > dataLength || info.end - info.begin != info.elements() * bytesPerElement(info)) {
                    throw new ModelLoadException(path + ": tensor " + info.name + " has an inconsistent byte range");
                }
                tensors.put(info.name, info);
            }
            return new SafetensorsFile(path, channel, 8 + headerLength, Collections.unmodifiableMap(tensors),
                    Collections.unmodifiableMap(metadata));
        } catch (IOException | RuntimeException e) {
            channel.close();
            throw e;
        }
    }

    public Path path() {
        return path;
    }

    public Map<String, TensorInfo> tensors() {
        return tensors;
    }

    public Map<String, String> metadata() {
        return metadata;
    }

    /**
     * Converts elements [from, from + count) of a tensor to float32 into {@code dst} (at its position).
     * The mapping covers only the requested range and is released before returning.
     */
    public void readFloat32(TensorInfo t, long from, int count, FloatBuffer dst) throws IOException {
        int width = bytesPerElement(t);
        MappedByteBuffer mapped = channel.map(FileChannel.MapMode.READ_ONLY,
                dataStart + t.begin + from * width, (long) count * width);
        try {
            mapped.order(ByteOrder.LITTLE_ENDIAN);
            switch (t.dtype) {
                case "F32" -> dst.put(mapped.asFloatBuffer());
                case "BF16" -> {
                    ShortBuffer src = mapped.asShortBuffer();
                    for (int i = 0; i < count; i++) {
                        dst.put(Float.intBitsToFloat((src.get(i) & 0xFFFF) << 16));
                    }
                }
                case "F16" -> {
                    ShortBuffer src = mapped.asShortBuffer();
                    for (int i = 0; i < count; i++) {
                        dst.put(halfToFloat(src.get(i)));
                    }
                }
                default -> throw new ModelLoadException(path + ": tensor " + t.name + " has dtype " + t.dtype
                        + "; supported: F32, F16, BF16");
            }
        } finally {
            NativeBuffers.release(mapped);
        }
    }

    static int bytesPerElement(TensorInfo t) {
        return switch (t.dtype) {
            case "F64", "I64", "U64" -> 8;
            case "F32", "I32", "U32" -> 4;
            case "F16", "BF16", "I16", "U16" -> 2;
            case "I8", "U8", "BOOL", "F8_E4M3", "F8_E5M2" -> 1;
            default -> throw new ModelLoadException("tensor " + t.name + " has unknown dtype " + t.dtype);
        };
    }

    /** IEEE 754 binary16 to binary32 (Float.float16ToFloat arrived only in Java 20). */
    static float halfToFloat(short half) {
        int h = half & 0xFFFF;
        int sign = (h & 0x8000) << 16;
        int exponent = (h >>> 10) & 0x1F;
        int mantissa = h & 0x3FF;
        if (exponent == 0x1F) {
            return Float.intBitsToFloat(sign | 0x7F800000 | (mantissa << 13));
        }
        if (exponent == 0) {
            if (mantissa == 0) {
                return Float.intBitsToFloat(sign);
            }
            float value = mantissa / 1024f / 16384f; // subnormal: mantissa * 2^-24
            return sign == 0 ? value : -value;
        }
        return Float.intBitsToFloat(sign | ((exponent + 112) << 23) | (mantissa << 13));
    }

    private static void readFully(FileChannel channel, ByteBuffer dst, long position) throws IOException {
        while (dst.hasRemaining()) {
            int n = channel.read(dst, position + dst.position());
            if (n < 0) {
                throw new IOException("unexpected end of file");
            }
        }
    }

    @Override
    public void close() throws IOException {
        channel.close();
    }
}
