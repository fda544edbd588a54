package io.tokenbus.generation;

import io.tokenbus.bus.Failure;
import io.tokenbus.bus.GenerationRequest;
import io.tokenbus.bus.Usage;
import io.tokenbus.provider.Provider;
import io.tokenbus.provider.UpstreamCall;
import io.tokenbus.provider.UpstreamListener;

/** Stands in for a provider this node does not have (a taken-over generation's model): fails at once. */
final class UnavailableProvider implements Provider {

  private final Failure failure;

  UnavailableProvider(Failure failure) {
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
