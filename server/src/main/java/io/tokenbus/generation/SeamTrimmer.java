package io.tokenbus.generation;

/**
 * Trims what a continuation repeats of the partial answer it continues. Models asked to continue
 * often start by repeating the last words; the overlap is the longest prefix of the continuation
 * that the partial answer already ends with (within {@link #WINDOW} characters) and that is made of
 * whole words: it starts at a word boundary of the partial answer and ends at one in the
 * continuation, or it is only white space. So a break inside a word or a number ("200" + "0") is
 * never taken for a repeat. Pieces are held only while they could still be part of an overlap
 * (while they occur in the partial answer's tail), so a continuation that repeats nothing flows on
 * at once.
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
    while (overlap > 0 && !(tail.endsWith(held.substring(0, overlap)) && wholeWords(overlap))) {
      overlap--;
    }
    String rest = held.substring(overlap);
    held.setLength(0);
    return rest;
  }

  /**
   * True when the first {@code length} held characters, as an overlap, cut no word in two on either
   * side.
   */
  private boolean wholeWords(int length) {
    String overlap = held.substring(0, length);
    if (overlap.isBlank()) {
      return true;
    }
    int start = tail.length() - length;
    boolean startsClean =
        start == 0 || !wordChar(tail.charAt(start - 1)) || !wordChar(overlap.charAt(0));
    boolean endsClean =
        length == held.length()
            || !wordChar(held.charAt(length))
            || !wordChar(overlap.charAt(length - 1));
    return startsClean && endsClean;
  }

  private static boolean wordChar(char c) {
    return Character.isLetterOrDigit(c);
  }

  boolean done() {
    return done;
  }
}
