package io.tokenbus.provider;

import io.tokenbus.bus.Usage;

/**
 * What a provider reports while it pulls one upstream stream, all on the caller's event loop; after
 * {@code onFinish} or {@code onFailure} there is nothing more.
 */
public interface UpstreamListener {

  /**
   * A piece of the answer. {@code text} may be empty when {@code chunk} carries something else
   * (reasoning, logprobs, a refusal).
   *
   * @param chunk what else the upstream's chunk held, as JSON to merge into a Chat Completions
   *     chunk (see {@code GenerationEncoder}), or null when it held only text
   */
  void onDelta(String text, String chunk);

  /** A tool-call delta: the upstream's chunk, as JSON in the shape of a Chat Completions chunk. */
  void onToolCall(String chunk);

  /** The upstream finished; {@code usage} may be null when it did not report one. */
  void onFinish(String finishReason, Usage usage);

  void onFailure(UpstreamFailure failure);
}
