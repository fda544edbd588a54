package io.tokenbus.provider;

import io.tokenbus.bus.Usage;

/** A running upstream attempt. */
public interface UpstreamCall {

  /** Stops the attempt and closes its upstream connection; no listener callback follows. */
  void cancel();

  /** The usage this attempt produced so far, as well as the provider knows it. */
  Usage usageSoFar();
}
