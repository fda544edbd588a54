package io.tokenbus.provider;

import io.tokenbus.bus.GenerationRequest;

/**
 * Pulls one generation from an upstream model. {@link #start} is called on the owner's event loop,
 * and every {@link UpstreamListener} callback arrives on that same loop; after a terminal callback
 * ({@code onFinish} or {@code onFailure}) there are no more.
 */
public interface Provider {

  String name();

  UpstreamCall start(GenerationRequest request, UpstreamListener listener);

  /**
   * Continues a generation another node started, after {@code deltas} deltas holding
   * {@code textSoFar}: the listener gets only what follows. A provider that cannot continue fails
   * at once, and the generation ends with its partial text.
   */
  default UpstreamCall resume(GenerationRequest request, long deltas, String textSoFar, UpstreamListener listener) {
    return new UnavailableProvider(io.tokenbus.bus.Failure.upstream("The node running this generation left the cluster, and the "
        + name() + " provider cannot continue an answer it did not start; the partial text is kept"))
        .resume(request, deltas, textSoFar, listener);
  }
}
