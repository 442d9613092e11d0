package io.slmclassifier.model;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Writes a {@code .safetensors} file tensor by tensor: the header is computed first from the declared shapes,
 * then each tensor's data is streamed, so files larger than memory can be written.
 */
public final class SafetensorsWriter {

    /** Produces a tensor's float values in row-major order, {@code count} at a time from {@code offset}. */
    public interface Values {
        void fill(long offset, float[] into, int count);
    }

    private record Entry(String dtype, long[] shape, Values values) {}

    private final Map<String, Entry> tensors = new LinkedHashMap<>();
    private final Map<String, String> metadata = new LinkedHashMap<>();

    /** dtype is "F32" or "BF16" (BF16 rounds to nearest even, as torch does). */
    public SafetensorsWriter add(String name, String dtype, long[] shape, Values values) {
        if (!dtype.equals("F32") && !dtype.equals("BF16")) {
            throw new IllegalArgumentException("dtype must be F32 or BF16");
        }
        tensors.put(name, new Entry(dtype, shape.clone(), values));
        return this;
    }

    public SafetensorsWriter add(String name, float[] data, long... shape) {
        return add(name, "F32", shape, (offset, into, count) -> System.arraycopy(data, (int) offset, into, 0, count));
    }

    public SafetensorsWriter metadata(String key, String value) {
        metadata.put(key, value);
        return this;
    }

    public void write(Path file) throws IOException {
        ObjectMapper json = new ObjectMapper();
        ObjectNode header = json.createObjectNode();
        if (!metadata.isEmpty()) {
            ObjectNode meta = header.putObject("__metadata__");
            metadata.forEach(meta::put);
        }
        long offset = 0;
        for (Map.Entry<String, Entry> e : tensors.entrySet()) {
            long bytes = elements(e.getValue().shape) * (e.getValue().dtype.equals("F32") ? 4 : 2);
            ObjectNode t = header.putObject(e.getKey());
            t.put("dtype", e.getValue().dtype);
            var shape = t.putArray("shape");
            for (long d : e.getValue().shape) {
                shape.add(d);
            }
            t.putArray("data_offsets").add(offset).add(offset + bytes);
            offset += bytes;
        }
        byte[] headerBytes = json.writeValueAsString(header).getBytes(StandardCharsets.UTF_8);
        int padded = (headerBytes.length + 7) / 8 * 8; // data starts 8-byte aligned, as the reference writer does
        try (OutputStream out = new java.io.BufferedOutputStream(Files.newOutputStream(file), 1 << 20)) {
            out.write(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(padded).array());
            out.write(headerBytes);
            for (int i = headerBytes.length; i < padded; i++) {
                out.write(' ');
            }
            float[] chunk = new float[1 << 16];
            ByteBuffer bytes = ByteBuffer.allocate(chunk.length * 4).order(ByteOrder.LITTLE_ENDIAN);
            for (Entry e : tensors.values()) {
                long total = elements(e.shape);
                for (long from = 0; from < total; from += chunk.length) {
                    int count = (int) Math.min(chunk.length, total - from);
                    e.values.fill(from, chunk, count);
                    bytes.clear();
                    for (int i = 0; i < count; i++) {
                        if (e.dtype.equals("F32")) {
                            bytes.putFloat(chunk[i]);
                        } else {
                            bytes.putShort(toBfloat16(chunk[i]));
                        }
                    }
                    out.write(bytes.array(), 0, bytes.position());
                }
            }
        }
    }

    static short toBfloat16(float value) {
        int bits = Float.floatToRawIntBits(value);
        if (Float.isNaN(value)) {
            return (short) 0x7FC0;
        }
        int roundingBias = 0x7FFF + ((bits >>> 16) & 1);
        return (short) ((bits + roundingBias) >>> 16);
    }

    private static long elements(long[] shape) {
        long n = 1;
        for (long d : shape) {
            n *= d;
        }
        return n;
    }
}
