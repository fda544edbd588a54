package io.tokenbus.provider;

import io.tokenbus.bus.GenerationRequest;

/**
 * Pulls one attempt of a generation from an upstream model. {@link #start} is called on the owner's
 * event loop, and every {@link UpstreamListener} callback arrives on that same loop. Retries,
 * timeouts between tokens, recovery and fallbacks are not a provider's business: the caller ({@code
 * generation.UpstreamRun}) does them for every provider alike.
 */
public interface Provider {

  String name();

  /**
   * Starts an attempt.
   *
   * @param model the model to ask for: the request's own, or a fallback's
   * @param from null for a new answer, or the partial answer to continue: the listener then gets
   *     what follows it (possibly overlapping its end, which the caller trims)
   */
  UpstreamCall start(
      GenerationRequest request, String model, Continuation from, UpstreamListener listener);

  /**
   * True when a continuation yields exactly what follows the partial answer, so nothing is trimmed.
   */
  default boolean continuesExactly() {
    return false;
  }

  /**
   * For a provider that {@link #continuesExactly}: the end of the partial answer it could not send
   * and that the continuation writes again (Anthropic's prefill cannot end in white space), which
   * the caller skips where the continuation starts with it, character for character. Empty by
   * default.
   */
  default String rewrites(Continuation from) {
    return "";
  }
}
