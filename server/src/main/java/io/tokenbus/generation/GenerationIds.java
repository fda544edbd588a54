package io.tokenbus.generation;

import java.security.SecureRandom;

/**
 * Generation ids: {@code chatcmpl-} and 24 random base-62 characters (~143 bits). The id is also
 * the OpenAI chunk id and the only key to watch or cancel a generation, so it must not be
 * guessable.
 */
public final class GenerationIds {

  private static final char[] ALPHABET =
      "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz".toCharArray();
  private static final SecureRandom RANDOM = new SecureRandom();

  private GenerationIds() {}

  public static String next() {
    char[] id = new char[24];
    for (int i = 0; i < id.length; i++) {
      id[i] = ALPHABET[RANDOM.nextInt(ALPHABET.length)];
    }
    return "chatcmpl-" + new String(id);
  }
}
