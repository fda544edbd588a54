package io.tokenbus.provider;

import io.tokenbus.config.TokenbusConfig;
import java.util.regex.Pattern;

/**
 * Removes a provider's key, its header values, and anything shaped like a key, from text that may
 * reach a client or a log.
 */
final class Redactor {

  /**
   * Keys of the common providers (sk-…, sk-ant-…, pk-…), also when a message masks part of them.
   */
  private static final Pattern KEY_LIKE = Pattern.compile("\\b(sk|pk|rk)-[A-Za-z0-9_*.-]{6,}");

  private final TokenbusConfig.Provider config;

  Redactor(TokenbusConfig.Provider config) {
    this.config = config;
  }

  String redact(String text) {
    if (text == null) {
      return "";
    }
    String redacted =
        config.apiKey().isEmpty() ? text : text.replace(config.apiKey(), "[redacted]");
    for (String value : config.headers().values()) {
      if (value.length() >= 8) {
        redacted = redacted.replace(value, "[redacted]");
      }
    }
    return KEY_LIKE.matcher(redacted).replaceAll("[redacted]");
  }
}
