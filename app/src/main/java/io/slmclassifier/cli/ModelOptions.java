package io.slmclassifier.cli;

import ai.djl.ndarray.types.DataType;
import java.util.List;

/** What commands that load a model take alike: the one description of {@code --model}, and {@code --dtype}. */
final class ModelOptions {
    static final String DESCRIPTION = "Model directory, Hugging Face id (owner/name or owner/name@revision, "
            + "downloaded into the Hugging Face cache) or demo-tiny (random weights, no download).";

    private ModelOptions() {}

    /**
     * A {@code --dtype} value: float32 (fp32), float16 (fp16) or bfloat16 (bf16), one of {@code allowed} (in the
     * order the error names them); null when none was given, for the device's default.
     */
    static DataType computeType(String dtype, List<DataType> allowed) {
        if (dtype == null) {
            return null;
        }
        DataType type = switch (dtype) {
            case "float32", "fp32" -> DataType.FLOAT32;
            case "float16", "fp16" -> DataType.FLOAT16;
            case "bfloat16", "bf16" -> DataType.BFLOAT16;
            default -> null;
        };
        if (type == null || !allowed.contains(type)) {
            List<String> names = allowed.stream().map(t -> t.name().toLowerCase(java.util.Locale.ROOT)).toList();
            String choices = names.size() == 1 ? names.get(0) : String.join(", ", names.subList(0, names.size() - 1))
                    + " or " + names.get(names.size() - 1);
            throw new IllegalArgumentException("--dtype must be " + choices + ", not " + dtype);
        }
        return type;
    }
}
