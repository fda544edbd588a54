package io.tokenbus.ui;

import static io.tokenbus.support.Await.await;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.tokenbus.provider.MockText;
import io.tokenbus.support.Browser;
import io.tokenbus.support.TestHub;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpServer;
import io.vertx.core.json.JsonObject;
import io.vertx.junit5.VertxExtension;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.openqa.selenium.By;

/**
 * What the issue promises an app: its page, on another origin listed in CORS, streams one answer in
 * a real browser with nothing but the answer's watch token, through a plain {@code EventSource}.
 */
@ExtendWith(VertxExtension.class)
@DisplayName("A page on another origin watches an answer with its watch token")
class WatchTokenPageTest {

  private static final String KEY = "sk-acme-1234567890abcdef";

  /** The app's page: reads the hub, id and token from its fragment, and shows the answer. */
  private static final String PAGE =
      """
      <!doctype html><meta charset="utf-8"><title>app</title>
      <pre id="out"></pre><p id="state">connecting</p>
      <script>
        const p = new URLSearchParams(location.hash.slice(1));
        const url = `${p.get('hub')}/v1/generations/${p.get('id')}/events?access_token=${p.get('token')}`;
        const events = new EventSource(url);
        events.addEventListener('delta', e => {
          document.getElementById('out').textContent += JSON.parse(e.data).text;
        });
        events.addEventListener('done', () => {
          events.close();
          document.getElementById('state').textContent = 'done';
        });
        events.onerror = () => { document.getElementById('state').textContent = 'error'; };
      </script>
      """;

  @Test
  @DisplayName("EventSource with ?access_token= from a listed origin gets the whole answer")
  void pageOnListedOrigin(Vertx vertx) {
    HttpServer app =
        await(
            vertx
                .createHttpServer()
                .requestHandler(
                    request -> request.response().putHeader("Content-Type", "text/html").end(PAGE))
                .listen(0, "127.0.0.1"));
    String appOrigin = "http://127.0.0.1:" + app.actualPort();
    TestHub hub =
        await(
            TestHub.start(
                vertx,
                Map.of(
                    "TOKENBUS_API_KEYS", "acme:" + KEY, "TOKENBUS_HTTP_CORS_ORIGINS", appOrigin)));
    // The app's backend starts the answer with its key and gives the page only the watch token.
    JsonObject created =
        await(
                hub.web()
                    .post("/v1/generations")
                    .putHeader("Authorization", "Bearer " + KEY)
                    .sendJsonObject(TestHub.mockRequest(40, 40)))
            .bodyAsJsonObject();
    String fragment =
        "hub="
            + URLEncoder.encode("http://127.0.0.1:" + hub.port(), StandardCharsets.UTF_8)
            + "&id="
            + created.getString("id")
            + "&token="
            + created.getString("watch_token");
    try (Browser browser = Browser.start()) {
      browser.open(appOrigin + "/#" + fragment);
      browser.waitUntil(
          d -> d.findElement(By.id("state")).getText().equals("done") ? true : null,
          20,
          "the page's EventSource reaches done");
      assertEquals(MockText.text(40), browser.driver().findElement(By.id("out")).getText());
    }
  }
}
