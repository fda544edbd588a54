package io.tokenbus.generation;

import java.io.Serializable;

/**
 * Where a generation's answer stands, folded from its log, for a node that takes it over: the last
 * seq, and since the last reset the deltas, their text, and whether there were tool calls or output
 * without text (which a continuation cannot carry on from).
 */
public record Progress(
    long lastSeq, long deltas, String text, boolean toolCalls, boolean otherOutput)
    implements Serializable {

  /** True when the answer has anything at all since its last reset. */
  public boolean hasOutput() {
    return !text.isEmpty() || toolCalls || otherOutput;
  }
}
