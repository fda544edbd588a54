package io.tokenbus.provider;

import io.tokenbus.bus.Failure;
import io.tokenbus.bus.GenerationRequest;
import io.tokenbus.bus.Usage;

/**
 * Stands in for a provider that cannot serve a request (a model this node lacks): fails at once.
 */
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
  public UpstreamCall start(
      GenerationRequest request, String model, Continuation from, UpstreamListener listener) {
    listener.onFailure(UpstreamFailure.fatal(failure));
    return new UpstreamCall() {
      @Override
      public void cancel() {}

      @Override
      public Usage usageSoFar() {
        return Usage.of(0, 0);
      }
    };
  }
}
