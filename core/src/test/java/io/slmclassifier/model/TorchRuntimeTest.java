package io.slmclassifier.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import org.junit.jupiter.api.Test;

/** The {@code device} setting: which GPU of a host a processor takes, and the one line that says it is not there. */
class TorchRuntimeTest {

    @Test
    void gpuIsGpuZeroAndGpuColonNIsGpuN() {
        assertEquals(0, TorchRuntime.gpuIndex("gpu"));
        assertEquals(0, TorchRuntime.gpuIndex("cuda"));
        assertEquals(0, TorchRuntime.gpuIndex("gpu:0"));
        assertEquals(3, TorchRuntime.gpuIndex("GPU:3"));
        assertEquals(1, TorchRuntime.gpuIndex("cuda:1"));
    }

    @Test
    void aSpecThatIsNoDeviceNamesTheFormsThatAre() {
        for (String bad : new String[] {"gpu:", "gpu:-1", "gpu:one", "gpu:1:2", "tpu", "gpu0", "gpu:99999"}) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> TorchRuntime.gpuIndex(bad));
            assertTrue(e.getMessage().contains("cpu, gpu, gpu:N"), e.getMessage());
            assertThrows(IllegalArgumentException.class, () -> TorchRuntime.device(bad), bad);
        }
    }

    @Test
    void aGpuBeyondThoseOfTheHostIsOneClearError() {
        int present = TorchRuntime.engine().getGpuCount();
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> TorchRuntime.device("gpu:" + present));
        String expected = present == 0 ? "--device gpu:0: no GPU is visible to PyTorch"
                : "--device gpu:" + present + ": this host has " + present + " GPU";
        assertTrue(e.getMessage().startsWith(expected), e.getMessage());
        assertEquals(-1, e.getMessage().indexOf('\n'), "one line");
    }

    @Test
    void cpuAndAutoNeedNoGpu() {
        assertEquals(Device.cpu(), TorchRuntime.device("cpu"));
        Device auto = TorchRuntime.device("auto");
        assertEquals(TorchRuntime.engine().getGpuCount() > 0 ? Device.gpu() : Device.cpu(), auto);
    }
}
