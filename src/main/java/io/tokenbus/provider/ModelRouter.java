package io.tokenbus.provider;

import io.tokenbus.bus.Failure;
import io.tokenbus.config.TokenbusConfig;
import io.vertx.core.Vertx;

/**
 * Picks the provider for a model: {@code mock} and {@code mock-*} go to the built-in mock, any
 * other model to the configured OpenAI-compatible upstream.
 */
public final class ModelRouter {

  private final MockProvider mock;
  private final OpenAiProvider openai;

  public ModelRouter(Vertx vertx, TokenbusConfig config) {
    this.mock = new MockProvider(vertx, config.mock());
    this.openai = config.openai().configured() ? new OpenAiProvider(vertx, config.openai()) : null;
  }

  public static boolean isMock(String model) {
    return model.equals("mock") || model.startsWith("mock-");
  }

  /** The provider for {@code model}, or a {@link Failure} saying why there is none. */
  public Route route(String model) {
    if (isMock(model)) {
      return new Route(mock, null);
    }
    if (openai == null) {
      return new Route(null, Failure.notFound("model_not_found", "The model '" + model + "' is not served here: only the mock models "
          + "(mock, mock-*) are available, because no upstream is configured (set OPENAI_BASE_URL)."));
    }
    return new Route(openai, null);
  }

  /** Exactly one of {@code provider} and {@code failure} is set. */
  public record Route(Provider provider, Failure failure) {
  }

  public void close() {
    if (openai != null) {
      openai.close();
    }
  }
}
