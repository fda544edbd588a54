package io.tokenbus.generation;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/**
 * How exact recoveries are, over many varied answers (full of repeated words and phrases, as model
 * answers are) broken at random points: the figures README gives under "The seam". Each case breaks
 * an answer at a random character, then joins a continuation fed in random pieces, as an upstream
 * of each kind sends it.
 */
@DisplayName("Seams over 20,000 random breaks: exact where the upstream continues exactly")
class SeamFidelityTest {

  static final int CASES = 20_000;
  static final long SEED = 16L;

  private static final String[] WORDS = {
    "the",
    "the",
    "the",
    "a",
    "a",
    "of",
    "to",
    "and",
    "and",
    "is",
    "in",
    "it",
    "that",
    "for",
    "on",
    "with",
    "as",
    "you",
    "can",
    "this",
    "data",
    "stream",
    "token",
    "answer",
    "model",
    "node",
    "then",
    "then",
    "very",
    "very",
    "2000",
    "200",
    "x",
    "very very",
    "on the",
    "of the"
  };
  private static final String[] PUNCTUATION = {
    " ", " ", " ", " ", " ", ", ", ". ", ".\n\n", "\n- "
  };

  /** An answer of about {@code words} words, with repeats and line breaks. */
  private static String answer(Random random, int words) {
    StringBuilder text = new StringBuilder();
    for (int i = 0; i < words; i++) {
      text.append(WORDS[random.nextInt(WORDS.length)]);
      if (random.nextInt(7) == 0) {
        // a phrase said again, as models do
        int from = Math.max(0, text.length() - 12 - random.nextInt(20));
        text.append(' ').append(text, from, text.length());
      }
      text.append(PUNCTUATION[random.nextInt(PUNCTUATION.length)]);
    }
    return text.toString();
  }

  private static List<String> pieces(Random random, String text) {
    List<String> out = new ArrayList<>();
    int at = 0;
    while (at < text.length()) {
      int next = Math.min(text.length(), at + 1 + random.nextInt(6));
      out.add(text.substring(at, next));
      at = next;
    }
    return out;
  }

  private static String join(SeamTrimmer trimmer, List<String> pieces) {
    StringBuilder out = new StringBuilder();
    for (String piece : pieces) {
      out.append(trimmer == null ? piece : trimmer.feed(piece));
    }
    return trimmer == null ? out.toString() : out.append(trimmer.flush()).toString();
  }

  /** The start of the word {@code at} is in (or {@code at} itself at a boundary). */
  private static int wordStart(String text, int at) {
    int start = at;
    while (start > 0 && Character.isLetterOrDigit(text.charAt(start - 1))) {
      start--;
    }
    return start;
  }

  @Test
  @DisplayName("exact continuations are joined exactly, every time; re-sent overlaps mostly")
  void rates() {
    Random random = new Random(SEED);
    int exactFinal = 0;
    int exactPrefill = 0;
    int resentExact = 0;
    int resentShort = 0;
    int repeatsOnExact = 0;
    for (int i = 0; i < CASES; i++) {
      String text = answer(random, 30 + random.nextInt(90));
      int at = 1 + random.nextInt(text.length() - 1);
      String partial = text.substring(0, at);
      String rest = text.substring(at);

      // An OpenAI-compatible server that continues the final assistant message: nothing trimmed.
      if ((partial + join(null, pieces(random, rest))).equals(text)) {
        exactFinal++;
      }
      // Anthropic: the prefill loses its trailing white space, which Claude writes again.
      String prefill = partial.stripTrailing();
      String rewritten = partial.substring(prefill.length());
      SeamTrimmer afterPrefill = rewritten.isEmpty() ? null : SeamTrimmer.rewrites(rewritten);
      if ((partial + join(afterPrefill, pieces(random, text.substring(prefill.length()))))
          .equals(text)) {
        exactPrefill++;
      }
      // An instruction-following upstream that continues exactly, through the repeat trimmer.
      if ((partial + join(SeamTrimmer.repeats(partial), pieces(random, rest))).equals(text)) {
        repeatsOnExact++;
      }
      // One that re-sends the last few whole words before going on.
      int words = 1 + random.nextInt(6);
      int from = wordStart(partial, at);
      for (int w = 0; w < words && from > 0; w++) {
        from = wordStart(partial, Math.max(0, from - 1));
        while (from > 0 && !Character.isLetterOrDigit(partial.charAt(from))) {
          from--;
        }
        from = wordStart(partial, from);
      }
      String resent = partial.substring(from) + rest;
      boolean exact =
          (partial + join(SeamTrimmer.repeats(partial), pieces(random, resent))).equals(text);
      if (exact) {
        resentExact++;
      } else if (at - from < SeamTrimmer.MIN_OVERLAP) {
        resentShort++;
      }
    }
    System.out.printf(
        "seams over %d breaks: continue-final-message exact %d, Anthropic prefill exact %d;"
            + " instruction, continuing exactly, exact %d (%.2f%%); instruction re-sending 1-6"
            + " words, exact %d (%.1f%%), of the rest %d re-sent fewer than %d characters%n",
        CASES,
        exactFinal,
        exactPrefill,
        repeatsOnExact,
        100.0 * repeatsOnExact / CASES,
        resentExact,
        100.0 * resentExact / CASES,
        resentShort,
        SeamTrimmer.MIN_OVERLAP);
    assertEquals(CASES, exactFinal);
    assertEquals(CASES, exactPrefill);
    assertTrue(repeatsOnExact >= CASES * 0.97, "exact continuations through the trimmer");
    assertTrue(resentExact >= CASES * 0.65, "re-sent overlaps trimmed");
    assertTrue(
        resentShort >= (CASES - resentExact) * 0.99,
        "what is not trimmed of a re-sent overlap is one shorter than the minimum");
  }
}
