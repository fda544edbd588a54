package io.tokenbus.http;

import static io.tokenbus.support.Await.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.openai.client.OpenAIClient;
import com.openai.client.okhttp.OpenAIOkHttpClient;
import com.openai.errors.UnauthorizedException;
import com.openai.models.chat.completions.ChatCompletionCreateParams;
import io.tokenbus.config.ConfigException;
import io.tokenbus.config.ConfigLoader;
import io.tokenbus.config.TokenbusConfig;
import io.tokenbus.provider.MockText;
import io.tokenbus.support.FakeOpenAi;
import io.tokenbus.support.SseClient;
import io.tokenbus.support.SseEvent;
import io.tokenbus.support.TestHub;
import io.tokenbus.support.UpstreamScript;
import io.tokenbus.support.WsClient;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.UpgradeRejectedException;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.client.HttpRequest;
import io.vertx.ext.web.client.HttpResponse;
import io.vertx.junit5.VertxExtension;
import java.nio.file.Path;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** API keys: every API call and WebSocket handshake needs one once any is configured. */
@ExtendWith(VertxExtension.class)
@DisplayName("Authentication with API keys")
class AuthTest {

  private static final String ACME = "sk-acme-1234567890abcdef";
  private static final String ACME_2 = "sk-acme-second-key-0000";
  private static final String GLOBEX = "sk-globex-1234567890abcdef";
  private static final String ADMIN = "sk-admin-1234567890abcdef";

  private static TestHub hub(Vertx vertx) {
    String globexDigest =
        HexFormat.of().formatHex(TokenbusConfig.Auth.sha256(GLOBEX)); // as a file would hold it
    return await(
        TestHub.start(
            vertx,
            Map.of(
                "TOKENBUS_API_KEYS",
                "acme:" + ACME + ", acme:" + ACME_2 + ",globex:sha256:" + globexDigest,
                "TOKENBUS_ADMIN_KEY",
                ADMIN)));
  }

  private static HttpRequest<Buffer> bearer(HttpRequest<Buffer> request, String key) {
    return request.putHeader("Authorization", "Bearer " + key);
  }

  private static void assertUnauthorized(HttpResponse<Buffer> response) {
    assertEquals(401, response.statusCode(), response.bodyAsString());
    assertEquals("Bearer", response.getHeader("WWW-Authenticate"));
    JsonObject error = response.bodyAsJsonObject().getJsonObject("error");
    assertEquals("invalid_request_error", error.getString("type"));
    assertEquals("invalid_api_key", error.getString("code"));
  }

  @Test
  @DisplayName(
      "with keys set, a call without a key or with an unknown one is a 401 in OpenAI's shape and"
          + " starts nothing")
  void refusesWithoutAKey(Vertx vertx) {
    TestHub hub = hub(vertx);
    JsonObject request = TestHub.mockRequest(5, 1000);
    assertUnauthorized(await(hub.web().post("/v1/chat/completions").sendJsonObject(request)));
    assertUnauthorized(
        await(
            bearer(hub.web().post("/v1/generations"), "sk-not-a-key-0000000")
                .sendJsonObject(request)));
    assertUnauthorized(await(hub.web().get("/v1/models").putHeader("Authorization", ACME).send()));
    assertUnauthorized(await(hub.web().post("/stream?prompt=hi").send()));
    assertUnauthorized(await(hub.web().get("/v1/generations/chatcmpl-x/events").send()));
    assertUnauthorized(await(hub.web().post("/v1/sessions").sendJsonObject(new JsonObject())));
    String refusal =
        await(bearer(hub.web().get("/v1/models"), "sk-not-a-key-0000000").send()).bodyAsString();
    assertTrue(!refusal.contains("sk-not-a-key"), "a refusal never echoes the key: " + refusal);
    // The chat page and the health probe stay public.
    assertEquals(200, await(hub.web().get("/health").send()).statusCode());
    assertEquals(200, await(hub.web().get("/").send()).statusCode());
  }

  @Test
  @DisplayName(
      "each tenant's keys, a key given as its SHA-256, and the admin key are accepted as a Bearer"
          + " token")
  void acceptsEveryConfiguredKey(Vertx vertx) {
    TestHub hub = hub(vertx);
    for (String key : new String[] {ACME, ACME_2, GLOBEX, ADMIN}) {
      var response =
          await(
              bearer(hub.web().post("/v1/chat/completions"), key)
                  .sendJsonObject(TestHub.mockRequest(5, 1000)));
      assertEquals(200, response.statusCode(), response.bodyAsString());
      assertEquals(
          MockText.text(5),
          response
              .bodyAsJsonObject()
              .getJsonArray("choices")
              .getJsonObject(0)
              .getJsonObject("message")
              .getString("content"));
    }
  }

  @Test
  @DisplayName("the official OpenAI SDK works with a key as its apiKey, and is refused without one")
  void openAiSdk(Vertx vertx) {
    TestHub hub = hub(vertx);
    ChatCompletionCreateParams params =
        ChatCompletionCreateParams.builder()
            .model("mock")
            .addUserMessage("hello")
            .maxCompletionTokens(5L)
            .build();
    OpenAIClient keyed = sdk(hub, ACME);
    assertEquals(
        MockText.text(5),
        keyed
            .chat()
            .completions()
            .create(params)
            .choices()
            .get(0)
            .message()
            .content()
            .orElseThrow());
    OpenAIClient wrong = sdk(hub, "sk-wrong-wrong-wrong-wrong");
    assertInstanceOf(
        UnauthorizedException.class,
        org.junit.jupiter.api.Assertions.assertThrows(
            RuntimeException.class, () -> wrong.chat().completions().create(params)));
  }

  private static OpenAIClient sdk(TestHub hub, String key) {
    return OpenAIOkHttpClient.builder()
        .baseUrl("http://127.0.0.1:" + hub.port() + "/v1")
        .apiKey(key)
        .maxRetries(0)
        .build();
  }

  @Test
  @DisplayName(
      "a browser's EventSource and WebSocket present the key as ?access_token=; a handshake without"
          + " one is refused with 401, never upgraded")
  void accessTokenForBrowsers(Vertx vertx) {
    TestHub hub = hub(vertx);
    var created =
        await(
            bearer(hub.web().post("/v1/generations"), ACME)
                .sendJsonObject(TestHub.mockRequest(20, 1000)));
    assertEquals(201, created.statusCode(), created.bodyAsString());
    String id = created.bodyAsJsonObject().getString("id");

    SseClient events =
        await(
            SseClient.get(
                SseClient.client(vertx),
                hub.port(),
                "/v1/generations/" + id + "/events?access_token=" + ACME,
                Map.of()));
    await(events.ended(), 10);
    assertEquals(MockText.text(20), SseEvent.text(events.events().items()));
    // Only the exact name: the logs' masks are made for it.
    for (String name : new String[] {"ACCESS_TOKEN", "access%5Ftoken"}) {
      assertEquals(
          401,
          await(hub.web().get("/v1/generations/" + id + "?" + name + "=" + ACME).send())
              .statusCode(),
          name);
    }

    Throwable refused =
        await(
            WsClient.connect(vertx, hub.port(), "/v1/ws")
                .map(socket -> (Throwable) null)
                .recover(e -> io.vertx.core.Future.succeededFuture(e)));
    assertInstanceOf(UpgradeRejectedException.class, refused);
    assertEquals(401, ((UpgradeRejectedException) refused).getStatus());
    Throwable wrongKey =
        await(
            WsClient.connect(vertx, hub.port(), "/v1/ws?access_token=sk-wrong-wrong-wrong")
                .map(socket -> (Throwable) null)
                .recover(e -> io.vertx.core.Future.succeededFuture(e)));
    assertEquals(401, ((UpgradeRejectedException) wrongKey).getStatus());

    WsClient socket = await(WsClient.connect(vertx, hub.port(), "/v1/ws?access_token=" + ACME));
    await(socket.send(new JsonObject().put("type", "subscribe").put("generation", id)));
    JsonObject done = await(socket.frames().whenAny(f -> "done".equals(f.getString("type"))), 10);
    assertEquals(21, done.getLong("seq"));
  }

  @Test
  @DisplayName(
      "a key shorter than 16 characters, a malformed entry or a bad sha256 stops start-up, and the"
          + " message never holds a key")
  void badKeysStopStartUp() {
    for (String keys :
        new String[] {
          "acme:short-key", "sk-no-tenant-1234567890", "acme:sha256:abc", ":sk-no-tenant-123456789"
        }) {
      ConfigException error =
          org.junit.jupiter.api.Assertions.assertThrows(
              ConfigException.class,
              () -> ConfigLoader.load((Path) null, Map.of("TOKENBUS_API_KEYS", keys)),
              keys);
      assertTrue(error.getMessage().contains("auth.api-keys"), error.getMessage());
      assertTrue(
          !error.getMessage().contains("short-key") && !error.getMessage().contains("1234567890"),
          error.getMessage());
    }
    ConfigException admin =
        org.junit.jupiter.api.Assertions.assertThrows(
            ConfigException.class,
            () -> ConfigLoader.load((Path) null, Map.of("TOKENBUS_ADMIN_KEY", "too-short")));
    assertTrue(admin.getMessage().contains("auth.admin-key"), admin.getMessage());
  }

  @Test
  @DisplayName("with no key configured, auth is off and every call is served as before")
  void offWithoutKeys(Vertx vertx) {
    TestHub hub = await(TestHub.start(vertx));
    assertEquals(
        200,
        await(hub.web().post("/v1/chat/completions").sendJsonObject(TestHub.mockRequest(3, 1000)))
            .statusCode());
  }

  @Test
  @DisplayName(
      "with keys set, an anonymous call never reaches the upstream; a client's key is never passed"
          + " on, the operator's is")
  void upstreamSeesNothingWithoutAKey(Vertx vertx) {
    FakeOpenAi openai = await(FakeOpenAi.start(vertx));
    openai.respond(UpstreamScript.Answer.of(List.of("Hello", " there")));
    TestHub hub =
        await(
            TestHub.start(
                vertx,
                Map.of(
                    "TOKENBUS_API_KEYS",
                    "acme:" + ACME,
                    "OPENAI_BASE_URL",
                    openai.baseUrl(),
                    "OPENAI_API_KEY",
                    "sk-operator-0123456789")));
    JsonObject request =
        new JsonObject()
            .put("model", "gpt-4o")
            .put(
                "messages",
                new JsonArray().add(new JsonObject().put("role", "user").put("content", "hi")));
    assertUnauthorized(await(hub.web().post("/v1/chat/completions").sendJsonObject(request)));
    assertUnauthorized(
        await(
            bearer(hub.web().post("/v1/generations"), "sk-not-a-key-0000000")
                .sendJsonObject(request)));
    HttpResponse<Buffer> served =
        await(bearer(hub.web().post("/v1/chat/completions"), ACME).sendJsonObject(request));
    assertEquals(200, served.statusCode(), served.bodyAsString());
    // Only the keyed call reached the upstream, with the operator's key and not the client's.
    assertEquals(1, openai.requests().size());
    String authorization = openai.requests().items().get(0).headers().get("Authorization");
    assertEquals("Bearer sk-operator-0123456789", authorization);
  }
}
