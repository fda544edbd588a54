package io.tokenbus.config;

/**
 * A configuration that cannot be used; the message names the key (and where its value came from).
 */
public final class ConfigException extends RuntimeException {

  private final String key;

  public ConfigException(String key, String problem) {
    super(key + " " + problem);
    this.key = key;
  }

  public String key() {
    return key;
  }
}
