package io.tokenbus.generation;

/**
 * Trims what a continuation repeats of the partial answer it continues. Models asked to continue
 * often start by repeating the last words; the overlap is the longest prefix of the continuation
 * that the partial answer already ends with (within {@link #WINDOW} characters). Pieces are held
 * only while they could still be part of such an overlap (while they occur in the partial
 * answer's tail), so a continuation that does not repeat anything flows on at once.
 */
final class SeamTrimmer {

  static final int WINDOW = 512;

  private final String tail;
  private final StringBuilder held = new StringBuilder();
  private boolean done;

  SeamTrimmer(String partial) {
    this.tail = partial.substring(Math.max(0, partial.length() - WINDOW));
  }

  /** Takes the next piece of the continuation; returns what may be emitted now (possibly empty). */
  String feed(String piece) {
    if (done) {
      return piece;
    }
    held.append(piece);
    if (held.length() <= tail.length() && tail.contains(held)) {
      return "";
    }
    return flush();
  }

  /** The continuation has ended, or something other than text follows: decides on what is held. */
  String flush() {
    if (done) {
      return "";
    }
    done = true;
    int overlap = Math.min(held.length(), tail.length());
    while (overlap > 0 && !tail.endsWith(held.substring(0, overlap))) {
      overlap--;
    }
    String rest = held.substring(overlap);
    held.setLength(0);
    return rest;
  }

  boolean done() {
    return done;
  }
}
