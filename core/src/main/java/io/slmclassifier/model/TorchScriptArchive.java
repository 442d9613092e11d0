package io.slmclassifier.model;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.zip.CRC32;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;

/**
 * A TorchScript archive made from source, the form {@code torch.jit.save} writes and the PyTorch engine loads:
 * a zip of {@code archive/version}, {@code archive/byteorder}, {@code archive/constants.pkl} (an empty tuple),
 * {@code archive/data.pkl} (the module object) and {@code archive/code/__torch__.py} (its class in TorchScript's
 * serialized dialect). The module is {@code __torch__.Model} with {@code training = False} and each listed
 * attribute None: the pickle holds no tensors, so a program declares what it holds {@code Optional} and a method
 * of its own sets it.
 *
 * <p>Written here because nothing on Maven Central writes TorchScript archives (the engine only loads them) and
 * Python is not there at run time. The two pickles are tiny and fixed in shape, so a few opcodes suffice.
 */
public final class TorchScriptArchive {
    // Pickle protocol 2 opcodes (Python's pickletools).
    private static final int PROTO = 0x80;
    private static final int GLOBAL = 'c';
    private static final int EMPTY_TUPLE = ')';
    private static final int NEWOBJ = 0x81;
    private static final int EMPTY_DICT = '}';
    private static final int NONE = 'N';
    private static final int MARK = '(';
    private static final int BINUNICODE = 'X';
    private static final int NEWFALSE = 0x89;
    private static final int SETITEMS = 'u';
    private static final int BUILD = 'b';
    private static final int STOP = '.';

    private TorchScriptArchive() {}

    /** The archive bytes for a {@code Model} class whose source is {@code code}. */
    public static byte[] pack(String code, List<String> unsetAttributes) {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (ZipOutputStream zip = new ZipOutputStream(bytes)) {
            // Stored, not deflated, as torch.jit.save writes them.
            add(zip, "archive/version", "3".getBytes(StandardCharsets.US_ASCII));
            add(zip, "archive/byteorder", "little".getBytes(StandardCharsets.US_ASCII));
            add(zip, "archive/constants.pkl", new byte[] {(byte) PROTO, 2, EMPTY_TUPLE, STOP});
            add(zip, "archive/data.pkl", modelPickle(unsetAttributes));
            add(zip, "archive/code/__torch__.py", code.getBytes(StandardCharsets.UTF_8));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return bytes.toByteArray();
    }

    /**
     * {@code __torch__.Model()} with state {training: False, name: None ...}. The engine sets the attributes in
     * this order, by position: it must be the order the class declares them in.
     */
    static byte[] modelPickle(List<String> unsetAttributes) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.write(PROTO);
        out.write(2);
        out.write(GLOBAL);
        out.writeBytes("__torch__\nModel\n".getBytes(StandardCharsets.US_ASCII));
        out.write(EMPTY_TUPLE);
        out.write(NEWOBJ);
        out.write(EMPTY_DICT);
        out.write(MARK);
        string(out, "training");
        out.write(NEWFALSE);
        for (String name : unsetAttributes) {
            string(out, name);
            out.write(NONE);
        }
        out.write(SETITEMS);
        out.write(BUILD);
        out.write(STOP);
        return out.toByteArray();
    }

    private static void string(ByteArrayOutputStream out, String s) {
        byte[] utf8 = s.getBytes(StandardCharsets.UTF_8);
        out.write(BINUNICODE);
        int n = utf8.length; // 4-byte little-endian length
        out.write(n);
        out.write(n >>> 8);
        out.write(n >>> 16);
        out.write(n >>> 24);
        out.writeBytes(utf8);
    }

    private static void add(ZipOutputStream zip, String name, byte[] data) throws IOException {
        ZipEntry entry = new ZipEntry(name);
        entry.setMethod(ZipEntry.STORED);
        entry.setSize(data.length);
        CRC32 crc = new CRC32();
        crc.update(data);
        entry.setCrc(crc.getValue());
        zip.putNextEntry(entry);
        zip.write(data);
        zip.closeEntry();
    }
}
