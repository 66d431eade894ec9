using System.Net;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;

namespace Switchboard.Identity.Tests;

/// <summary>
/// The point of the built-in server: a user who signed in connects to Switchboard with the access
/// token it got, and stays connected by refreshing it over the live connection.
/// </summary>
public sealed class AccessTokenConnectionTests : OwnIdentityServer
{
    private const string Password = "correct horse battery";

    // 5-minute access tokens, and pings rare enough not to need answering while the clock jumps.
    protected override string[] ExtraArguments =>
    [
        "--Switchboard:Identity:AccessTokenLifetime=00:05:00",
        "--Switchboard:Client:PingInterval=00:30:00",
    ];

    [Fact]
    public async Task A_signed_in_user_connects_with_the_access_token_receives_publications_and_refreshes_past_its_expiry()
    {
        var userName = "ada-" + Guid.NewGuid().ToString("N")[..8];
        using var browser = new Browser(Server.BaseAddress);
        var (verifier, challenge) = Browser.Pkce();
        var code = await browser.SignUpAndAuthorizeAsync(userName, Password, challenge);
        var (status, tokens) = await browser.ExchangeCodeAsync(code, verifier);
        Assert.Equal(HttpStatusCode.OK, status);
        var accessToken = tokens.GetProperty("access_token").GetString()!;
        var refreshToken = tokens.GetProperty("refresh_token").GetString()!;

        using var ws = new ClientWebSocket();
        await ws.ConnectAsync(Server.WebSocketUri, CancellationToken.None);
        var connect = (await CommandAsync(ws, 1, $"\"connect\":{{\"token\":\"{accessToken}\"}}")).GetProperty("connect");
        Assert.True(connect.GetProperty("expires").GetBoolean());
        var ttl = connect.GetProperty("ttl").GetInt32();
        Assert.InRange(ttl, 290, 300);

        // Known as the user the token names: `chat` admits authenticated users only, and the
        // subscriber's publication carries its user id.
        await CommandAsync(ws, 2, "\"subscribe\":{\"channel\":\"chat:oauth\"}");
        using (var api = Server.Api())
        {
            using var published = await api.PostAsync("/api/publish", IdentityServer.Json(new { channel = "chat:oauth", data = new { hello = "ada" } }));
            Assert.Equal(HttpStatusCode.OK, published.StatusCode);
        }
        var pub = (await NextAsync(ws)).GetProperty("push").GetProperty("pub");
        Assert.Equal("ada", pub.GetProperty("data").GetProperty("hello").GetString());

        // Ten seconds before the access token expires, the app gets a new one with its refresh
        // token and hands it to the connection.
        Server.Time.Advance(TimeSpan.FromSeconds(ttl - 10));
        var (refreshed, newTokens) = await browser.RefreshAsync(refreshToken);
        Assert.Equal(HttpStatusCode.OK, refreshed);
        var refresh = (await CommandAsync(ws, 3, $"\"refresh\":{{\"token\":\"{newTokens.GetProperty("access_token").GetString()}\"}}")).GetProperty("refresh");
        Assert.True(refresh.GetProperty("expires").GetBoolean());
        Assert.InRange(refresh.GetProperty("ttl").GetInt32(), 290, 300);

        // Well past the first token's expiry and its grace (25 s), the connection still answers.
        for (var i = 0; i < 6; i++)
        {
            Server.Time.Advance(TimeSpan.FromSeconds(10));
        }
        var presence = await CommandAsync(ws, 4, "\"presence_stats\":{\"channel\":\"chat:oauth\"}");
        Assert.Equal(1, presence.GetProperty("presence_stats").GetProperty("num_users").GetInt32());
        Assert.Equal(WebSocketState.Open, ws.State);
    }

    [Fact]
    public async Task A_bot_connects_with_a_client_credentials_token_as_its_client_id()
    {
        var clientId = "bot-" + Guid.NewGuid().ToString("N")[..8];
        using var api = Server.Api();
        using var created = await api.PostAsync("/api/identity/clients", IdentityServer.Json(new { client_id = clientId, display_name = "Trading bot" }));
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        using var createdBody = JsonDocument.Parse(await created.Content.ReadAsStringAsync());
        using var browser = new Browser(Server.BaseAddress);
        var (status, tokens) = await browser.TokenAsync(new()
        {
            ["grant_type"] = "client_credentials",
            ["client_id"] = clientId,
            ["client_secret"] = createdBody.RootElement.GetProperty("client_secret").GetString()!,
        });
        Assert.Equal(HttpStatusCode.OK, status);

        using var ws = new ClientWebSocket();
        await ws.ConnectAsync(Server.WebSocketUri, CancellationToken.None);
        await CommandAsync(ws, 1, $"\"connect\":{{\"token\":\"{tokens.GetProperty("access_token").GetString()}\"}}");
        await CommandAsync(ws, 2, "\"subscribe\":{\"channel\":\"chat:bots\",\"join_leave\":true}");
        var presence = (await CommandAsync(ws, 3, "\"presence\":{\"channel\":\"chat:bots\"}")).GetProperty("presence").GetProperty("presence");
        var me = Assert.Single(presence.EnumerateObject()).Value;
        Assert.Equal(clientId, me.GetProperty("user").GetString());
    }

    private async Task<JsonElement> CommandAsync(ClientWebSocket ws, int id, string body)
    {
        await ws.SendAsync(Encoding.UTF8.GetBytes($"{{\"id\":{id},{body}}}"), WebSocketMessageType.Text, true, CancellationToken.None);
        while (true)
        {
            var message = await NextAsync(ws);
            if (message.TryGetProperty("id", out var replyId) && replyId.GetInt32() == id)
            {
                Assert.False(message.TryGetProperty("error", out var error), error.ToString());
                return message;
            }
        }
    }

    // The server joins messages queued together into one frame, one JSON per line.
    private readonly Queue<JsonElement> _pending = new();

    private async Task<JsonElement> NextAsync(ClientWebSocket ws)
    {
        if (_pending.TryDequeue(out var queued))
        {
            return queued;
        }
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var buffer = new byte[64 * 1024];
        var length = 0;
        while (true)
        {
            var result = await ws.ReceiveAsync(buffer.AsMemory(length), timeout.Token);
            Assert.NotEqual(WebSocketMessageType.Close, result.MessageType);
            length += result.Count;
            if (result.EndOfMessage)
            {
                foreach (var line in Encoding.UTF8.GetString(buffer, 0, length).Split('\n', StringSplitOptions.RemoveEmptyEntries))
                {
                    _pending.Enqueue(JsonDocument.Parse(line).RootElement.Clone());
                }
                return _pending.Dequeue();
            }
        }
    }
}
