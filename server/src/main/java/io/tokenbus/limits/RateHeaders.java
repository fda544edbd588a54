package io.tokenbus.limits;

import java.util.function.BiConsumer;

/**
 * OpenAI's rate-limit headers for one answer: the requests a tenant may still make this minute and,
 * where its tokens are limited, the completion tokens left today.
 *
 * @param requestLimit requests per minute (0: not limited, no request headers)
 * @param tokenLimit completion tokens per day (0: not limited, no token headers)
 */
public record RateHeaders(
    int requestLimit,
    int requestsRemaining,
    long requestsResetMillis,
    long tokenLimit,
    long tokensRemaining,
    long tokensResetMillis) {

  /** Writes the headers that apply. */
  public void writeTo(BiConsumer<String, String> header) {
    if (requestLimit > 0) {
      header.accept("x-ratelimit-limit-requests", Integer.toString(requestLimit));
      header.accept("x-ratelimit-remaining-requests", Integer.toString(requestsRemaining));
      header.accept("x-ratelimit-reset-requests", duration(requestsResetMillis));
    }
    if (tokenLimit > 0) {
      header.accept("x-ratelimit-limit-tokens", Long.toString(tokenLimit));
      header.accept("x-ratelimit-remaining-tokens", Long.toString(tokensRemaining));
      header.accept("x-ratelimit-reset-tokens", duration(tokensResetMillis));
    }
  }

  /** A duration as OpenAI writes it in these headers: {@code 20ms}, {@code 1.5s}, {@code 6m0s}. */
  static String duration(long millis) {
    if (millis < 1000) {
      return millis + "ms";
    }
    long hours = millis / 3_600_000;
    long minutes = millis / 60_000 % 60;
    long seconds = millis / 1000 % 60;
    long rest = millis % 1000;
    String secs =
        rest == 0
            ? seconds + "s"
            : seconds + "." + String.format("%03d", rest).replaceAll("0+$", "") + "s";
    if (hours > 0) {
      return hours + "h" + minutes + "m" + secs;
    }
    return minutes > 0 ? minutes + "m" + secs : secs;
  }
}
