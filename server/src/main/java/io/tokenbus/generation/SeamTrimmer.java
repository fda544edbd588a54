package io.tokenbus.generation;

/**
 * Joins a continuation to the partial answer it continues, in one of two ways.
 *
 * <ul>
 *   <li>{@link #repeats}: for an upstream asked to continue by an instruction, which may start by
 *       repeating the end of the partial answer. Only an overlap that is provably a repeat is
 *       dropped: the longest start of the continuation that the partial answer already ends with
 *       (within {@link #WINDOW} characters), compared character for character, at least {@link
 *       #MIN_OVERLAP} characters long, and made of whole words (it starts at a word boundary of the
 *       partial answer and ends at one in the continuation). A shorter match ("the" after "…on
 *       the") is kept: a continuation may rightly begin with the word the answer ended with, and
 *       trimming it cut real text.
 *   <li>{@link #rewrites}: for an upstream that continues exactly but was sent the partial answer
 *       without its end ({@code rewritten}: Anthropic's prefill loses its trailing white space),
 *       which it writes again: the continuation's start is skipped for as long as it equals that
 *       end, character for character, and nothing else is ever dropped.
 * </ul>
 *
 * Pieces are held only while they could still be part of what is dropped, so a continuation that
 * repeats nothing flows on at once.
 */
final class SeamTrimmer {

  static final int WINDOW = 512;

  /** The shortest overlap taken for a repeat: shorter ones are as likely the answer's own words. */
  static final int MIN_OVERLAP = 12;

  private final String tail;
  private final boolean exact;
  private final StringBuilder held = new StringBuilder();
  private boolean done;

  private SeamTrimmer(String tail, boolean exact) {
    this.tail = tail;
    this.exact = exact;
  }

  /** For a continuation that may repeat the end of {@code partial}. */
  static SeamTrimmer repeats(String partial) {
    return new SeamTrimmer(partial.substring(Math.max(0, partial.length() - WINDOW)), false);
  }

  /** For an exact continuation that writes {@code rewritten} (the partial answer's end) again. */
  static SeamTrimmer rewrites(String rewritten) {
    return new SeamTrimmer(rewritten, true);
  }

  /** Takes the next piece of the continuation; returns what may be emitted now (possibly empty). */
  String feed(String piece) {
    if (done) {
      return piece;
    }
    held.append(piece);
    if (exact) {
      if (held.length() <= tail.length() && tail.startsWith(held.toString())) {
        return ""; // all of it is the rewritten end so far
      }
      return flush();
    }
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
    int overlap = exact ? rewritten() : repeated();
    String rest = held.substring(overlap);
    held.setLength(0);
    return rest;
  }

  /** How much of what is held is the rewritten end: their common start. */
  private int rewritten() {
    int n = 0;
    int max = Math.min(held.length(), tail.length());
    while (n < max && held.charAt(n) == tail.charAt(n)) {
      n++;
    }
    return n;
  }

  /** The longest held start that is a repeat of the tail, or 0. */
  private int repeated() {
    int overlap = Math.min(held.length(), tail.length());
    while (overlap >= MIN_OVERLAP
        && !(tail.endsWith(held.substring(0, overlap)) && wholeWords(overlap))) {
      overlap--;
    }
    return overlap >= MIN_OVERLAP ? overlap : 0;
  }

  /**
   * True when the first {@code length} held characters, as an overlap, start at a word boundary of
   * the partial answer (or are only white space): "ox jumps" after "…fox jumps" is no repeat. Where
   * it ends does not matter: an upstream that re-sends whole words after a break inside one
   * ("…brown fox jum" then "brown fox jumps") repeats a word's start, and the minimum length
   * already keeps a short match, such as "200" then "0 in Rome", from being taken for one.
   */
  private boolean wholeWords(int length) {
    String overlap = held.substring(0, length);
    if (overlap.isBlank()) {
      return true;
    }
    int start = tail.length() - length;
    return start == 0 || !wordChar(tail.charAt(start - 1)) || !wordChar(overlap.charAt(0));
  }

  private static boolean wordChar(char c) {
    return Character.isLetterOrDigit(c);
  }

  boolean done() {
    return done;
  }
}
