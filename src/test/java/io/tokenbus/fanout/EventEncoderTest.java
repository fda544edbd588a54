package io.tokenbus.fanout;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.tokenbus.bus.GenerationEvent;
import java.util.List;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

@DisplayName("Event encoding and merging")
class EventEncoderTest {

  @Test
  @DisplayName("a token with line breaks becomes one data: line per line")
  void dataLines() {
    assertEquals("data: a\ndata: b\n", EventEncoder.dataLines("a\nb"));
    assertEquals("data: \ndata: \ndata: \n", EventEncoder.dataLines("\n\n"));
    assertEquals("data:  x\n", EventEncoder.dataLines(" x"));
    assertEquals("data: a\ndata: b\n", EventEncoder.dataLines("a\r\nb"));
  }

  @Test
  @DisplayName("merging folds each run of deltas into one delta with the run's last seq")
  void merge() {
    List<GenerationEvent> merged = Viewer.merge(List.of(GenerationEvent.delta(4, "a"), GenerationEvent.delta(5, "b"),
        GenerationEvent.delta(6, "c"), GenerationEvent.done(7, "stop", null)));
    assertEquals(List.of(GenerationEvent.delta(6, "abc"), GenerationEvent.done(7, "stop", null)), merged);
  }
}
