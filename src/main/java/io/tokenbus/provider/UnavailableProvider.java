package io.tokenbus.provider;

import io.tokenbus.bus.Failure;
import io.tokenbus.bus.GenerationRequest;
import io.tokenbus.bus.Usage;

/** Stands in for a provider that cannot serve a request (a model this node lacks): fails at once. */
public final class UnavailableProvider implements Provider {

  private final Failure failure;

  public UnavailableProvider(Failure failure) {
    this.failure = failure;
  }

  @Override
  public String name() {
    return "unavailable";
  }

  @Override
  public UpstreamCall start(GenerationRequest request, UpstreamListener listener) {
    return resume(request, 0, "", listener);
  }

  @Override
  public UpstreamCall resume(GenerationRequest request, long deltas, String textSoFar, UpstreamListener listener) {
    listener.onFailure(failure);
    return new UpstreamCall() {
      @Override
      public void cancel() {
      }

      @Override
      public Usage usageSoFar() {
        return Usage.of(0, deltas);
      }
    };
  }
}
