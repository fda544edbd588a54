package io.tokenbus.provider;

import java.time.Instant;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.time.format.DateTimeParseException;

/**
 * Reads how long an upstream asks to wait: {@code retry-after-ms} (OpenAI), else {@code
 * Retry-After} in seconds or as an HTTP date.
 */
final class RetryAfter {

  private RetryAfter() {}

  /** Milliseconds to wait, or -1 when neither header says. */
  static long parseMillis(String retryAfter, String retryAfterMs) {
    if (retryAfterMs != null) {
      try {
        return Math.max(0, (long) Double.parseDouble(retryAfterMs.trim()));
      } catch (NumberFormatException e) {
        // fall back to Retry-After
      }
    }
    if (retryAfter == null || retryAfter.isBlank()) {
      return -1;
    }
    String value = retryAfter.trim();
    try {
      return Math.max(0, (long) (Double.parseDouble(value) * 1000));
    } catch (NumberFormatException e) {
      try {
        long at =
            ZonedDateTime.parse(value, DateTimeFormatter.RFC_1123_DATE_TIME)
                .toInstant()
                .toEpochMilli();
        return Math.max(0, at - Instant.now().toEpochMilli());
      } catch (DateTimeParseException notADate) {
        return -1;
      }
    }
  }
}
