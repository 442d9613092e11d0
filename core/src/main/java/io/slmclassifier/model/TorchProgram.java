package io.slmclassifier.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.engine.PtNDManager;
import ai.djl.pytorch.engine.PtSymbolBlock;
import ai.djl.pytorch.jni.IValue;
import ai.djl.pytorch.jni.IValueUtils;
import ai.djl.pytorch.jni.JniUtils;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.lang.reflect.Constructor;
import java.lang.reflect.Field;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.nio.charset.StandardCharsets;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A TorchScript program written as source beside the class that uses it, packed into an archive
 * ({@link TorchScriptArchive}) and loaded in the PyTorch engine: one engine call runs a whole method.
 *
 * <p>Calls go through DJL's public {@link IValueUtils#runMethod}, except where the calling thread records
 * gradients (inside a gradient collector): that method always runs under a no-grad guard, which would cut
 * training's gradient path. The engine's own native call takes a training flag but is package-private, so this
 * class reaches it, and the {@link IValue} constructor that wraps its result, by reflection ({@link Engine}). No
 * other class of the project uses reflection on the engine; {@code TorchProgramTest} fails, naming what moved,
 * when a DJL upgrade breaks it.
 */
public final class TorchProgram implements AutoCloseable {

    /** DJL 0.36's package-private parts of the PyTorch engine that a call with gradients needs. */
    static final class Engine {
        static final String LIBRARY_CLASS = "ai.djl.pytorch.jni.PyTorchLibrary";
        static final String LIBRARY_FIELD = "LIB";
        static final String RUN_METHOD = "moduleRunMethod(long module, String method, long[] inputs, boolean training,"
                + " boolean separateCudaStream)";
        static final String IVALUE_CONSTRUCTOR = "IValue(long handle)";

        private static final Object LIBRARY;
        private static final Method RUN;
        private static final Constructor<IValue> WRAP;
        /** Why the parts are missing; null when all were found. */
        static final String MISSING;

        static {
            Object library = null;
            Method run = null;
            Constructor<IValue> wrap = null;
            String missing = null;
            try {
                Class<?> type = Class.forName(LIBRARY_CLASS);
                Field lib = type.getDeclaredField(LIBRARY_FIELD);
                lib.setAccessible(true);
                library = lib.get(null);
                run = type.getDeclaredMethod("moduleRunMethod", long.class, String.class, long[].class, boolean.class,
                        boolean.class);
                run.setAccessible(true);
                wrap = IValue.class.getDeclaredConstructor(long.class);
                wrap.setAccessible(true);
            } catch (ReflectiveOperationException | RuntimeException e) {
                missing = "the PyTorch engine's method call is not where DJL 0.36 has it (" + LIBRARY_CLASS + "."
                        + LIBRARY_FIELD + ", " + LIBRARY_CLASS + "." + RUN_METHOD + ", " + IVALUE_CONSTRUCTOR + "): "
                        + e;
            }
            LIBRARY = library;
            RUN = run;
            WRAP = wrap;
            MISSING = missing;
        }

        private Engine() {}

        static IValue runWithGradients(PtSymbolBlock module, String method, IValue[] args)
                throws ReflectiveOperationException {
            if (MISSING != null) {
                throw new IllegalStateException(MISSING);
            }
            long[] handles = new long[args.length];
            for (int i = 0; i < args.length; i++) {
                handles[i] = args[i].getHandle();
            }
            long result = (long) RUN.invoke(LIBRARY, module.getHandle(), method, handles, true, SEPARATE_CUDA_STREAM);
            return WRAP.newInstance(result);
        }
    }

    private static final boolean SEPARATE_CUDA_STREAM = Boolean.getBoolean("ai.djl.pytorch.enable_cuda_stream");

    private final PtSymbolBlock module;
    /** Values the caller keeps across calls (a prepared adapter): passed in, never closed by a call. */
    private final Set<IValue> held = Collections.synchronizedSet(Collections.newSetFromMap(new IdentityHashMap<>()));

    private TorchProgram(PtSymbolBlock module) {
        this.module = module;
    }

    /**
     * @param resource the source file, next to {@code owner} on the class path
     * @param unsetAttributes the program's {@code Optional} attributes, None until one of its methods sets them
     */
    public static TorchProgram load(NDManager manager, Class<?> owner, String resource, List<String> unsetAttributes) {
        String code;
        try (InputStream in = owner.getResourceAsStream(resource)) {
            if (in == null) {
                throw new IllegalStateException(resource + " is missing from the class path beside " + owner.getName());
            }
            code = new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return fromSource(manager, code, unsetAttributes);
    }

    /** A program from its source text (see {@link #load}). */
    public static TorchProgram fromSource(NDManager manager, String code, List<String> unsetAttributes) {
        try (InputStream archive = new ByteArrayInputStream(TorchScriptArchive.pack(code, unsetAttributes))) {
            return new TorchProgram(JniUtils.loadModule((PtNDManager) manager, archive, true, false));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * Runs a method; the arguments are closed afterwards, except those {@link #hold held}; the result is the
     * caller's to close.
     */
    public IValue call(String method, IValue... args) {
        TorchRuntime.programThread();
        try {
            if (!JniUtils.isGradMode()) {
                return IValueUtils.runMethod(module, method, args);
            }
            return Engine.runWithGradients(module, method, args);
        } catch (InvocationTargetException e) {
            if (e.getCause() instanceof RuntimeException r) {
                throw r;
            }
            throw new IllegalStateException(e.getCause());
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException(e);
        } finally {
            for (IValue a : args) {
                if (!held.contains(a)) {
                    a.close();
                }
            }
        }
    }

    /** Runs a method that returns nothing. */
    public void run(String method, IValue... args) {
        call(method, args).close();
    }

    /** Keeps a value (a method's result) open across calls that take it, until {@link #release}. */
    public IValue hold(IValue value) {
        held.add(value);
        return value;
    }

    /** Closes a held value; the program frees what it refers to once no call in flight uses it. */
    public void release(IValue value) {
        held.remove(value);
        value.close();
    }

    public static IValue tensor(NDArray array) {
        return IValue.from((PtNDArray) array);
    }

    public static IValue list(List<NDArray> arrays) {
        return IValue.listFrom(arrays.toArray(new PtNDArray[0]));
    }

    /** A {@code Dict[str, Tensor]}, in the map's order. */
    public static IValue dict(Map<String, NDArray> arrays) {
        Map<String, PtNDArray> pt = new LinkedHashMap<>();
        arrays.forEach((name, array) -> pt.put(name, (PtNDArray) array));
        return IValue.stringMapFrom(pt);
    }

    @Override
    public void close() {
        module.close();
    }
}
