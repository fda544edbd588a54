package io.tokenbus.bus;

import java.io.Serializable;

/** Token counts of one generation, as OpenAI reports them. */
public record Usage(long promptTokens, long completionTokens, long totalTokens)
    implements Serializable {

  public static Usage of(long promptTokens, long completionTokens) {
    return new Usage(promptTokens, completionTokens, promptTokens + completionTokens);
  }

  public Usage plus(Usage other) {
    return new Usage(
        promptTokens + other.promptTokens,
        completionTokens + other.completionTokens,
        totalTokens + other.totalTokens);
  }
}
