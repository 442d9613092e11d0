package io.slmclassifier.stream;

import java.util.HashMap;
import java.util.Map;

/** The processor as a separate JVM for the crash test: key=value arguments, runs until killed. */
public final class ProcessorChild {
    private ProcessorChild() {}

    public static void main(String[] args) throws Exception {
        Map<String, String> config = new HashMap<>();
        for (String arg : args) {
            int eq = arg.indexOf('=');
            config.put(arg.substring(0, eq), arg.substring(eq + 1));
        }
        ProcessorService service = new ProcessorService(ProcessorConfig.of(config),
                new ProcessorService.AvroWire(new ClassifierTopologyTest.RawAvro(), null));
        Runtime.getRuntime().addShutdownHook(new Thread(service::close));
        service.start();
        System.out.println("processor started");
        service.awaitStop();
    }
}
