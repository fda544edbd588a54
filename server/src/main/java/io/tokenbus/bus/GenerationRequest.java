package io.tokenbus.bus;

import io.vertx.core.json.JsonObject;

/**
 * A request to run one generation: the client's Chat Completions body (kept whole, so fields
 * tokenbus does not use reach the upstream), with the fields tokenbus reads pulled out and checked.
 *
 * @param maxTokens the request's {@code max_tokens} / {@code max_completion_tokens}, or null
 * @param mockTokensPerSecond the mock model's speed for this request, or null for the configured
 *     one
 * @param session the chat session this generation answers, or null
 * @param creator who asked for it: its tenant, and the credential named in the audit log
 */
public record GenerationRequest(
    String model,
    JsonObject body,
    Integer maxTokens,
    Double mockTokensPerSecond,
    SessionLink session,
    Creator creator) {

  public GenerationRequest(
      String model,
      JsonObject body,
      Integer maxTokens,
      Double mockTokensPerSecond,
      Creator creator) {
    this(model, body, maxTokens, mockTokensPerSecond, null, creator);
  }
}
