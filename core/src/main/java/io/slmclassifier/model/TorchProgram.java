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
import java.util.List;

/**
 * A TorchScript program written as source beside the class that uses it, packed into an archive
 * ({@link TorchScriptArchive}) and loaded in the PyTorch engine: one engine call runs a whole method.
 *
 * <p>Methods record gradients when the calling thread does (inside a gradient collector). DJL's public
 * {@link IValueUtils#runMethod} always runs under a no-grad guard, which would cut training's gradient path; the
 * engine's own native call takes a training flag but is package-private, so it is reached by reflection (DJL
 * 0.36). Calls without gradients go through the public method.
 */
public final class TorchProgram implements AutoCloseable {
    private static final Object LIBRARY;
    private static final Method RUN_METHOD;
    private static final Constructor<IValue> IVALUE;
    private static final boolean SEPARATE_CUDA_STREAM = Boolean.getBoolean("ai.djl.pytorch.enable_cuda_stream");

    static {
        try {
            Class<?> library = Class.forName("ai.djl.pytorch.jni.PyTorchLibrary");
            Field lib = library.getDeclaredField("LIB");
            lib.setAccessible(true);
            LIBRARY = lib.get(null);
            RUN_METHOD = library.getDeclaredMethod("moduleRunMethod", long.class, String.class, long[].class,
                    boolean.class, boolean.class);
            RUN_METHOD.setAccessible(true);
            IVALUE = IValue.class.getDeclaredConstructor(long.class);
            IVALUE.setAccessible(true);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError("the PyTorch engine's method call is not where DJL 0.36 has it: " + e);
        }
    }

    private final PtSymbolBlock module;

    private TorchProgram(PtSymbolBlock module) {
        this.module = module;
    }

    /**
     * @param resource the source file, next to {@code owner} on the class path
     * @param listAttributes the program's list attributes, created empty (its methods fill them)
     */
    public static TorchProgram load(NDManager manager, Class<?> owner, String resource, List<String> listAttributes) {
        String code;
        try (InputStream in = owner.getResourceAsStream(resource)) {
            if (in == null) {
                throw new IllegalStateException(resource + " is missing from the class path beside " + owner.getName());
            }
            code = new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        try (InputStream archive = new ByteArrayInputStream(TorchScriptArchive.pack(code, listAttributes))) {
            return new TorchProgram(JniUtils.loadModule((PtNDManager) manager, archive, true, false));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Runs a method; the arguments are closed afterwards, the result is the caller's to close. */
    public IValue call(String method, IValue... args) {
        TorchRuntime.programThread();
        try {
            if (!JniUtils.isGradMode()) {
                return IValueUtils.runMethod(module, method, args);
            }
            long[] handles = new long[args.length];
            for (int i = 0; i < args.length; i++) {
                handles[i] = args[i].getHandle();
            }
            long result = (long) RUN_METHOD.invoke(LIBRARY, module.getHandle(), method, handles, true, SEPARATE_CUDA_STREAM);
            return IVALUE.newInstance(result);
        } catch (InvocationTargetException e) {
            if (e.getCause() instanceof RuntimeException r) {
                throw r;
            }
            throw new IllegalStateException(e.getCause());
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException(e);
        } finally {
            for (IValue a : args) {
                a.close();
            }
        }
    }

    /** Runs a method that returns nothing. */
    public void run(String method, IValue... args) {
        call(method, args).close();
    }

    public static IValue tensor(NDArray array) {
        return IValue.from((PtNDArray) array);
    }

    public static IValue list(List<NDArray> arrays) {
        return IValue.listFrom(arrays.toArray(new PtNDArray[0]));
    }

    @Override
    public void close() {
        module.close();
    }
}
