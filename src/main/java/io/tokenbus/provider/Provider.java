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
}
