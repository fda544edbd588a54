package io.tokenbus.provider;

import io.tokenbus.bus.Usage;

/** A running upstream call. */
public interface UpstreamCall {

  /** Stops the call and closes its upstream connection; no listener callback follows. */
  void cancel();

  /** The usage produced so far, as well as the provider knows it. */
  Usage usageSoFar();
}
