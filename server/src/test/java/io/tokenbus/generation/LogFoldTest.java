package io.tokenbus.generation;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tokenbus.bus.Failure;
import io.tokenbus.bus.GenerationEvent;
import java.util.List;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

class LogFoldTest {

  @Test
  @DisplayName(
      "what a takeover continues from: text, tool calls and textless output since the last reset")
  void progress() {
    Failure cause = Failure.upstream("broke");
    LogFold fold =
        LogFold.of(
            List.of(
                GenerationEvent.delta(1, "old"),
                GenerationEvent.toolCall(2, "{}"),
                GenerationEvent.reset(3, cause),
                GenerationEvent.recovery(4, "restart", cause, "{}"),
                GenerationEvent.delta(
                    5, "", "{\"choices\":[{\"delta\":{\"reasoning_content\":\"hm\"}}]}"),
                GenerationEvent.delta(6, "new")));
    Progress progress = fold.progress();
    assertEquals(6, progress.lastSeq());
    assertEquals("new", progress.text());
    assertEquals(2, progress.deltas());
    assertFalse(progress.toolCalls(), "the tool call came before the reset");
    assertTrue(progress.otherOutput());
    GenerationSnapshot snapshot = fold.snapshot(null);
    assertEquals(1, snapshot.recoveries());
    assertEquals("new", snapshot.text());

    Progress onlyTools = LogFold.of(List.of(GenerationEvent.toolCall(1, "{}"))).progress();
    assertTrue(onlyTools.toolCalls() && onlyTools.hasOutput() && onlyTools.text().isEmpty());
    assertFalse(
        LogFold.of(List.of(GenerationEvent.recovery(1, "retry", cause, "{}")))
            .progress()
            .hasOutput(),
        "retries before the first token are no output");
  }
}
