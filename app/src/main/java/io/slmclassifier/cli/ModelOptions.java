package io.slmclassifier.cli;

/** The one description of a {@code --model} value, shared by every command that takes one. */
final class ModelOptions {
    static final String DESCRIPTION = "Model directory, Hugging Face id (owner/name or owner/name@revision, "
            + "downloaded into the Hugging Face cache) or demo-tiny (random weights, no download).";

    private ModelOptions() {}
}
