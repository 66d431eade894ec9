using System.Net;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using System.Threading.Channels;

namespace Switchboard.FunctionalTests.Transports;

/// <summary>A server of its own for the unidirectional WebSocket tests (they move its clock).</summary>
public sealed class UniServer : IAsyncLifetime
{
    public ServerFixture Server { get; private set; } = null!;

    public async Task InitializeAsync() => Server = await ServerFixture.StartAsync();

    public Task DisposeAsync() => Server.DisposeAsync();
}

/// <summary>
/// <c>/connection/uni_websocket</c>: a JSON connect request as the first message, then only
/// unwrapped pushes from the server, one per text frame; refusals close with the disconnect code.
/// </summary>
public sealed class UniWebSocketTests(UniServer fixture) : IClassFixture<UniServer>
{
    private ServerFixture Server => fixture.Server;

    private string Token(string user, string channels)
        => Tokens.Connection(user, Server.Time.GetUtcNow(), extra: $",\"channels\":[{channels}]");

    private static string Unique(string prefix) => $"{prefix}-{Guid.NewGuid():N}"[..20];

    [Fact]
    public async Task A_client_connects_with_its_first_message_and_receives_its_server_side_subscriptions_one_push_per_frame()
    {
        var channel = Unique("chat:uni");
        await using var client = await UniClient.OpenAsync(Server);
        await client.SendAsync($"{{\"token\":\"{Token("ursula", $"\"{channel}\"")}\"}}");
        var connect = (await client.NextAsync()).GetProperty("connect");
        Assert.False(string.IsNullOrEmpty(connect.GetProperty("client").GetString()));
        Assert.True(connect.GetProperty("subs").TryGetProperty(channel, out _), connect.ToString());
        Assert.Contains(Server.Node.ConnectionsByTransport(), m => (string?)m.Tags[0].Value == "uni_websocket");

        using var api = Server.Api();
        await Api.PostAsync(api, "publish", $"{{\"channel\":\"{channel}\",\"data\":{{\"n\":1}}}}");
        await Api.PostAsync(api, "publish", $"{{\"channel\":\"{channel}\",\"data\":{{\"n\":2}}}}");
        foreach (var n in new[] { 1, 2 })
        {
            // Unwrapped: the push object itself, no "push" key, no newline-joined messages.
            var push = await client.NextAsync();
            Assert.Equal(channel, push.GetProperty("channel").GetString());
            Assert.Equal(n, push.GetProperty("pub").GetProperty("data").GetProperty("n").GetInt32());
            Assert.Equal((ulong)n, push.GetProperty("pub").GetProperty("offset").GetUInt64());
        }
        Assert.DoesNotContain(client.Frames, frame => frame.Contains('\n', StringComparison.Ordinal));
    }

    [Fact]
    public async Task The_connect_request_subs_recover_missed_publications_of_a_server_side_subscription()
    {
        var channel = Unique("chat:unirec");
        var token = Token("rita", $"\"{channel}\"");
        using var api = Server.Api();
        await Api.PostAsync(api, "publish", $"{{\"channel\":\"{channel}\",\"data\":{{\"n\":1}}}}");
        string epoch;
        ulong offset;
        await using (var first = await UniClient.OpenAsync(Server))
        {
            await first.SendAsync($"{{\"token\":\"{token}\"}}");
            var sub = (await first.NextAsync()).GetProperty("connect").GetProperty("subs").GetProperty(channel);
            epoch = sub.GetProperty("epoch").GetString()!;
            offset = sub.GetProperty("offset").GetUInt64();
        }
        Assert.Equal(1UL, offset);
        for (var n = 2; n <= 4; n++)
        {
            await Api.PostAsync(api, "publish", $"{{\"channel\":\"{channel}\",\"data\":{{\"n\":{n}}}}}");
        }

        await using var again = await UniClient.OpenAsync(Server);
        await again.SendAsync($"{{\"token\":\"{token}\",\"subs\":{{\"{channel}\":{{\"recover\":true,\"epoch\":\"{epoch}\",\"offset\":{offset}}}}}}}");
        var recovered = (await again.NextAsync()).GetProperty("connect").GetProperty("subs").GetProperty(channel);
        Assert.True(recovered.GetProperty("recovered").GetBoolean(), recovered.ToString());
        Assert.Equal([2, 3, 4], recovered.GetProperty("publications").EnumerateArray().Select(p => p.GetProperty("data").GetProperty("n").GetInt32()));
        Assert.Equal(epoch, recovered.GetProperty("epoch").GetString());
    }

    [Fact]
    public async Task The_server_pings_with_an_empty_object_and_expects_no_pong()
    {
        await using var client = await UniClient.OpenAsync(Server);
        await client.SendAsync($"{{\"token\":\"{Token("pia", "")}\"}}");
        await client.NextAsync(); // connect
        // The heartbeat sweeps once a second; three ping intervals pass without any pong.
        for (var second = 0; second < 3 * 25; second++)
        {
            Server.Time.Advance(TimeSpan.FromSeconds(1));
            if ((second + 1) % 25 == 0)
            {
                Assert.Equal("{}", (await client.NextAsync()).GetRawText());
            }
        }
        Assert.False(client.IsClosed);
    }

    [Theory]
    [InlineData("{\"token\":\"not-a-jwt\"}", 3500)]
    [InlineData("not json", 3501)]
    [InlineData("[1,2]", 3501)]
    [InlineData("null", 3501)]
    [InlineData("{\"token\":5}", 3501)]
    public async Task A_refused_connect_request_closes_with_its_disconnect_code(string request, int code)
    {
        await using var client = await UniClient.OpenAsync(Server);
        await client.SendAsync(request);
        Assert.Equal(code, await client.ClosedAsync());
        Assert.Empty(client.Frames);
    }

    [Fact]
    public async Task A_client_that_never_sends_its_connect_request_is_closed_with_3502()
    {
        await using var client = await UniClient.OpenAsync(Server);
        for (var second = 0; second <= 10; second++)
        {
            Server.Time.Advance(TimeSpan.FromSeconds(1)); // the heartbeat sweeps once a second
        }
        Assert.Equal(3502, await client.ClosedAsync());
    }

    [Fact]
    public async Task An_empty_connect_request_closes_with_3501()
    {
        await using var client = await UniClient.OpenAsync(Server);
        await client.SendAsync("");
        Assert.Equal(3501, await client.ClosedAsync());
    }

    [Fact]
    public async Task A_binary_connect_request_closes_with_3501()
    {
        await using var client = await UniClient.OpenAsync(Server);
        await client.SendAsync("{}", WebSocketMessageType.Binary);
        Assert.Equal(3501, await client.ClosedAsync());
    }

    [Fact]
    public async Task A_message_after_the_connect_request_closes_with_3501()
    {
        await using var client = await UniClient.OpenAsync(Server);
        await client.SendAsync($"{{\"token\":\"{Token("quinn", "")}\"}}");
        Assert.True((await client.NextAsync()).TryGetProperty("connect", out _));
        await client.SendAsync("{}");
        Assert.Equal(3501, await client.ClosedAsync());
    }

    [Fact]
    public async Task A_connect_request_over_the_message_limit_closes_with_1009()
    {
        await using var client = await UniClient.OpenAsync(Server);
        await client.SendAsync($"{{\"token\":\"{new string('x', 70 * 1024)}\"}}");
        Assert.Equal(1009, await client.ClosedAsync());
    }

    [Fact]
    public async Task A_foreign_origin_is_refused_403_before_the_upgrade()
    {
        using var socket = new ClientWebSocket();
        socket.Options.SetRequestHeader("Origin", "http://evil.example");
        socket.Options.CollectHttpResponseDetails = true;
        await Assert.ThrowsAsync<WebSocketException>(() => socket.ConnectAsync(UniClient.UriOf(Server), CancellationToken.None));
        Assert.Equal(HttpStatusCode.Forbidden, socket.HttpStatusCode);
    }

    [Fact]
    public async Task A_server_at_its_connection_cap_refuses_503()
    {
        await using var capped = await ServerFixture.StartAsync("--Switchboard:Client:MaxConnections=1");
        await using var first = await UniClient.OpenAsync(capped);
        await first.SendAsync("{}");
        Assert.True((await first.NextAsync()).TryGetProperty("connect", out _));
        using var socket = new ClientWebSocket();
        socket.Options.CollectHttpResponseDetails = true;
        await Assert.ThrowsAsync<WebSocketException>(() => socket.ConnectAsync(UniClient.UriOf(capped), CancellationToken.None));
        Assert.Equal(HttpStatusCode.ServiceUnavailable, socket.HttpStatusCode);
    }

    /// <summary>A unidirectional WebSocket client: every frame received, parsed as one JSON message.</summary>
    private sealed class UniClient : IAsyncDisposable
    {
        private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

        private readonly ClientWebSocket _socket = new();
        private readonly Channel<JsonElement> _messages = Channel.CreateUnbounded<JsonElement>();
        private readonly TaskCompletionSource<int?> _closed = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public List<string> Frames { get; } = [];

        public bool IsClosed => _closed.Task.IsCompleted;

        public static Uri UriOf(ServerFixture server) => new($"ws://{server.BaseAddress.Authority}/connection/uni_websocket");

        public static async Task<UniClient> OpenAsync(ServerFixture server)
        {
            var client = new UniClient();
            await client._socket.ConnectAsync(UriOf(server), CancellationToken.None);
            _ = client.ReadLoopAsync();
            return client;
        }

        private async Task ReadLoopAsync()
        {
            var buffer = new byte[1 << 20];
            try
            {
                while (true)
                {
                    var length = 0;
                    ValueWebSocketReceiveResult result;
                    do
                    {
                        result = await _socket.ReceiveAsync(buffer.AsMemory(length), CancellationToken.None);
                        length += result.Count;
                    }
                    while (!result.EndOfMessage);
                    if (result.MessageType == WebSocketMessageType.Close)
                    {
                        _closed.TrySetResult((int?)_socket.CloseStatus);
                        if (_socket.State == WebSocketState.CloseReceived)
                        {
                            await _socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "", CancellationToken.None);
                        }
                        break;
                    }
                    Assert.Equal(WebSocketMessageType.Text, result.MessageType);
                    var text = Encoding.UTF8.GetString(buffer, 0, length);
                    lock (Frames)
                    {
                        Frames.Add(text);
                    }
                    _messages.Writer.TryWrite(JsonDocument.Parse(text).RootElement.Clone());
                }
            }
            catch (WebSocketException)
            {
                _closed.TrySetResult(null);
            }
            _messages.Writer.TryComplete();
        }

        public Task SendAsync(string text, WebSocketMessageType type = WebSocketMessageType.Text)
            => _socket.SendAsync(Encoding.UTF8.GetBytes(text), type, true, CancellationToken.None);

        public async Task<JsonElement> NextAsync()
        {
            using var cts = new CancellationTokenSource(Timeout);
            return await _messages.Reader.ReadAsync(cts.Token);
        }

        public Task<int?> ClosedAsync() => _closed.Task.WaitAsync(Timeout);

        public async ValueTask DisposeAsync()
        {
            if (_socket.State == WebSocketState.Open)
            {
                try
                {
                    await _socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "", CancellationToken.None);
                }
                catch (WebSocketException)
                {
                }
            }
            _socket.Dispose();
        }
    }
}
