package io.slmclassifier.devkit;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

/** {@code soak --device}: one device for every processor, or a list that gives each processor its own. */
class SoakRunTest {

    @Test
    void oneDeviceIsEveryProcessorsAndAListIsTakenInTurns() {
        assertEquals("cpu", SoakRun.processorDevice("cpu", 0));
        assertEquals("cpu", SoakRun.processorDevice("cpu", 3));
        assertEquals("gpu:0", SoakRun.processorDevice("gpu:0, gpu:1", 0));
        assertEquals("gpu:1", SoakRun.processorDevice("gpu:0, gpu:1", 1));
        assertEquals("gpu:0", SoakRun.processorDevice("gpu:0,gpu:1", 2), "a third processor shares GPU 0");
    }
}
