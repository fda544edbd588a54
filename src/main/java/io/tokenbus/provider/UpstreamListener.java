package io.tokenbus.provider;

import io.tokenbus.bus.Failure;
import io.tokenbus.bus.Usage;

/** What a provider reports while it pulls an upstream stream. */
public interface UpstreamListener {

  /** A non-empty piece of the answer's text. */
  void onDelta(String text);

  /** The upstream finished; {@code usage} may be null when it did not report one. */
  void onFinish(String finishReason, Usage usage);

  void onFailure(Failure failure);
}
