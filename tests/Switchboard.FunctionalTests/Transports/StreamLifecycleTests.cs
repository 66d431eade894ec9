using System.Net;
using System.Text;
using System.Text.Json;

namespace Switchboard.FunctionalTests.Transports;

/// <summary>
/// The session lifecycle over HTTP-streaming and SSE, each test on a server of its own with a fake
/// clock: heartbeats and the pong deadline, the drain, the connection cap.
/// </summary>
public sealed class StreamLifecycleTests
{
    private static readonly TimeSpan Second = TimeSpan.FromSeconds(1);

    // The heartbeat sweeps once a second: advance second by second, as a real clock would.
    private static void Advance(ServerFixture server, TimeSpan by)
    {
        for (var t = TimeSpan.Zero; t < by; t += Second)
        {
            server.Time.Advance(Second);
        }
    }

    private static Task<StreamClient> ConnectAsync(ServerFixture server, string transport)
        => transport == "sse" ? StreamClient.ConnectSseAsync(server.BaseAddress) : StreamClient.ConnectHttpStreamAsync(server.BaseAddress);

    private static bool IsPing(JsonElement? message) => message is { ValueKind: JsonValueKind.Object } m && !m.EnumerateObject().Any();

    [Theory]
    [InlineData("http_stream")]
    [InlineData("sse")]
    public async Task A_client_that_does_not_answer_a_ping_gets_a_3012_disconnect_push(string transport)
    {
        await using var server = await ServerFixture.StartAsync();
        await using var client = await ConnectAsync(server, transport);
        Advance(server, TimeSpan.FromSeconds(25));
        Assert.True(IsPing(await client.NextAsync()));
        Advance(server, TimeSpan.FromSeconds(8));
        Assert.Equal(3012, await client.DisconnectCodeAsync());
        Assert.Null(server.Node.FindEmulationSession(client.Session));
    }

    [Theory]
    [InlineData("http_stream")]
    [InlineData("sse")]
    public async Task A_pong_sent_by_emulation_keeps_the_session(string transport)
    {
        await using var server = await ServerFixture.StartAsync();
        await using var client = await ConnectAsync(server, transport);
        Advance(server, TimeSpan.FromSeconds(25));
        Assert.True(IsPing(await client.NextAsync()));
        using (var pong = await client.EmulateAsync("{}"))
        {
            Assert.Equal(HttpStatusCode.NoContent, pong.StatusCode); // answered once the pong is handled
        }
        Advance(server, TimeSpan.FromSeconds(20));
        var reply = await client.CallAsync("\"subscribe\":{\"channel\":\"plain:kept\"}");
        Assert.True(reply.TryGetProperty("subscribe", out _), reply.ToString());
        Assert.NotNull(server.Node.FindEmulationSession(client.Session));
    }

    [Fact]
    public async Task A_draining_node_refuses_new_streams_with_503_and_ends_open_ones_with_a_3001_disconnect_push()
    {
        await using var server = await ServerFixture.StartAsync("--Switchboard:Drain:Window=00:00:10", "--Switchboard:Drain:Batches=1");
        await using var stream = await ConnectAsync(server, "http_stream");
        await using var sse = await ConnectAsync(server, "sse");

        var stopping = server.App.StopAsync();
        await server.Node.DrainStarted.WaitAsync(TimeSpan.FromSeconds(10));
        using (var http = StreamClient.Http(server.BaseAddress))
        {
            using var content = new StringContent("{\"id\":1,\"connect\":{}}", Encoding.UTF8, "application/json");
            using var refused = await http.PostAsync(new Uri("/connection/http_stream", UriKind.Relative), content);
            Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.StatusCode);
            Assert.Equal("1", refused.Headers.RetryAfter?.ToString());
            using var refusedSse = await http.GetAsync(new Uri("/connection/sse?cf_connect=" + Uri.EscapeDataString("{\"id\":1,\"connect\":{}}"), UriKind.Relative));
            Assert.Equal(HttpStatusCode.ServiceUnavailable, refusedSse.StatusCode);
        }

        // The one batch goes at a random moment of the window: move the clock through it.
        await Poll.UntilAsync(() =>
        {
            server.Time.Advance(Second);
            return Task.FromResult(server.Node.Sessions.All(s => s.DisconnectCode is not null));
        }, "every session told to go");
        Assert.Equal(3001, await stream.DisconnectCodeAsync());
        Assert.Equal(3001, await sse.DisconnectCodeAsync());
        await stopping.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(0, server.Node.SessionCount);
    }

    [Fact]
    public async Task At_the_connection_cap_a_new_stream_is_refused_with_503()
    {
        await using var server = await ServerFixture.StartAsync("--Switchboard:Client:MaxConnections=1");
        await using var first = await ConnectAsync(server, "http_stream");
        using var http = StreamClient.Http(server.BaseAddress);
        using var content = new StringContent("{\"id\":1,\"connect\":{}}", Encoding.UTF8, "application/json");
        using var refused = await http.PostAsync(new Uri("/connection/http_stream", UriKind.Relative), content);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.StatusCode);
        Assert.Equal("1", refused.Headers.RetryAfter?.ToString());
    }

    [Theory]
    [InlineData("uni_http_stream")]
    [InlineData("uni_sse")]
    public async Task A_unidirectional_client_gets_pings_and_owes_no_pong(string transport)
    {
        await using var server = await ServerFixture.StartAsync();
        await using var client = transport == "uni_sse"
            ? await StreamClient.GetSseAsync(server.BaseAddress, "/connection/uni_sse", "{}")
            : await StreamClient.PostAsync(server.BaseAddress, "/connection/uni_http_stream", "{}");
        Assert.True((await client.NextAsync())!.Value.TryGetProperty("connect", out _));
        Advance(server, TimeSpan.FromSeconds(25));
        Assert.True(IsPing(await client.NextAsync()));
        // Well past the pong timeout: still open, and the next ping comes.
        Advance(server, TimeSpan.FromSeconds(25));
        Assert.True(IsPing(await client.NextAsync()));
        var session = Assert.Single(server.Node.Sessions);
        Assert.Null(session.DisconnectCode);
    }
}
