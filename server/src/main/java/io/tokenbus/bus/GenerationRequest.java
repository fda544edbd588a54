package io.tokenbus.bus;

import io.vertx.core.json.JsonObject;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A request to run one generation: the client's Chat Completions body (kept whole, so fields
 * tokenbus does not use reach the upstream), with the fields tokenbus reads pulled out and checked.
 *
 * @param maxTokens the request's {@code max_tokens} / {@code max_completion_tokens}, or null
 * @param mockTokensPerSecond the mock model's speed for this request, or null for the configured
 *     one
 * @param session the chat session this generation answers, or null
 * @param creator who asked for it: its tenant, and the credential named in the audit log
 * @param metadata the client's {@code metadata} (string keys and values, checked at the edge), in
 *     its order; kept apart from the body, which loses it unless it goes upstream, and kept when a
 *     finished generation drops its prompt, since listings filter on it
 */
public record GenerationRequest(
    String model,
    JsonObject body,
    Integer maxTokens,
    Double mockTokensPerSecond,
    SessionLink session,
    Creator creator,
    Map<String, String> metadata) {

  public GenerationRequest {
    metadata = metadataOf(metadata);
  }

  public GenerationRequest(
      String model,
      JsonObject body,
      Integer maxTokens,
      Double mockTokensPerSecond,
      SessionLink session,
      Creator creator) {
    this(model, body, maxTokens, mockTokensPerSecond, session, creator, Map.of());
  }

  public GenerationRequest(
      String model,
      JsonObject body,
      Integer maxTokens,
      Double mockTokensPerSecond,
      Creator creator) {
    this(model, body, maxTokens, mockTokensPerSecond, null, creator);
  }

  /** This request with another body (a finished generation's, without the prompt). */
  public GenerationRequest withBody(JsonObject body) {
    return new GenerationRequest(
        model, body, maxTokens, mockTokensPerSecond, session, creator, metadata);
  }

  /** This request capped at {@code maxTokens}. */
  public GenerationRequest withMaxTokens(Integer maxTokens) {
    return new GenerationRequest(
        model, body, maxTokens, mockTokensPerSecond, session, creator, metadata);
  }

  /**
   * Metadata as every holder keeps it: unmodifiable, in its order, the same empty map for none (so
   * that copies read back from the cluster compare equal).
   */
  public static Map<String, String> metadataOf(Map<String, String> metadata) {
    return metadata == null || metadata.isEmpty()
        ? Map.of()
        : Collections.unmodifiableMap(new LinkedHashMap<>(metadata));
  }
}
