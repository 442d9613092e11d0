package io.slmclassifier.model;

import ai.djl.pytorch.engine.PtSymbolBlock;
import ai.djl.pytorch.jni.IValue;
import ai.djl.pytorch.jni.IValueUtils;
import java.lang.reflect.Constructor;
import java.lang.reflect.Field;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;

/**
 * Calls a method of a TorchScript program, with or without autograd. DJL's public {@link IValueUtils#runMethod}
 * always runs under a no-grad guard, which would cut the gradient path of training; the engine's own native call
 * takes a training flag but is package-private, so it is reached here by reflection (DJL 0.36). Inference goes
 * through the public call.
 */
final class ProgramCalls {
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

    private ProgramCalls() {}

    static IValue run(PtSymbolBlock program, String method, boolean withGradients, IValue... args) {
        if (!withGradients) {
            return IValueUtils.runMethod(program, method, args);
        }
        long[] handles = new long[args.length];
        for (int i = 0; i < args.length; i++) {
            handles[i] = args[i].getHandle();
        }
        try {
            long result = (long) RUN_METHOD.invoke(LIBRARY, program.getHandle(), method, handles, true, SEPARATE_CUDA_STREAM);
            return IVALUE.newInstance(result);
        } catch (InvocationTargetException e) {
            if (e.getCause() instanceof RuntimeException r) {
                throw r;
            }
            throw new IllegalStateException(e.getCause());
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException(e);
        }
    }
}
