package io.tokenbus.provider;

import java.util.List;

/**
 * The mock model's deterministic text: token i is {@code TOKENS[i % TOKENS.size()]}, so tests can
 * predict any answer from its length. The vocabulary deliberately holds blank lines, emoji, CJK and
 * accented letters, so every path is exercised with them.
 */
public final class MockText {

  public static final List<String> TOKENS =
      List.of(
          "Hello",
          " from",
          " the",
          " tokenbus",
          " mock",
          " model",
          ".",
          "\n\n",
          "Every",
          " viewer",
          " sees",
          " the",
          " same",
          " answer",
          ",",
          " token",
          " by",
          " token",
          ":",
          " 🚀",
          " 你好",
          "世界",
          ",",
          " naïve",
          " café",
          "!",
          "\n",
          "- ",
          "one",
          " stream",
          "\n",
          "- ",
          "many",
          " listeners",
          ".",
          "\n\n");

  private MockText() {}

  public static String token(long index) {
    return TOKENS.get((int) (index % TOKENS.size()));
  }

  /**
   * The first {@code count} tokens, concatenated: the whole answer of a mock generation of that
   * length.
   */
  public static String text(int count) {
    StringBuilder text = new StringBuilder();
    for (int i = 0; i < count; i++) {
      text.append(token(i));
    }
    return text.toString();
  }
}
