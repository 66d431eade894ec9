using System.Net;
using System.Text.Json;

namespace Switchboard.FunctionalTests.Transports;

/// <summary>
/// Emulation requests that reach another node than the one holding the session: two nodes in
/// process on the Redis engine and one real redis-server. The session streams from node A; every
/// command goes to node B, which forwards it to A over A's own control channel.
/// </summary>
public sealed class EmulationAcrossNodesTests : IAsyncLifetime
{
    private RedisServer? _redis;

    private RedisServer Redis => _redis ?? throw new InvalidOperationException("not started");

    public async Task InitializeAsync() => _redis = await RedisServer.StartAsync();

    public async Task DisposeAsync()
    {
        if (_redis is not null)
        {
            await _redis.DisposeAsync();
        }
    }

    private Task<ServerFixture> StartNodeAsync(string prefix, string name)
        => ServerFixture.StartAsync(
            "--Switchboard:Engine=redis",
            $"--Switchboard:Redis:Addresses:0={Redis.Address}",
            $"--Switchboard:Redis:Prefix={prefix}",
            $"--Switchboard:NodeName={name}",
            "--Switchboard:Redis:NodeHeartbeatInterval=00:00:01",
            "--Switchboard:Redis:NodeTtl=00:00:03");

    private static async Task UntilEachNodeSeesTheOtherAsync(ServerFixture a, ServerFixture b)
        => await Poll.UntilAsync(() =>
        {
            a.Time.Advance(TimeSpan.FromSeconds(1));
            b.Time.Advance(TimeSpan.FromSeconds(1));
            return Task.FromResult(a.Node.Cluster.Nodes().Count == 2 && b.Node.Cluster.Nodes().Count == 2);
        }, "both nodes registered");

    [Fact]
    public async Task A_session_on_one_node_is_driven_by_emulation_requests_sent_to_another()
    {
        var prefix = "t" + Guid.NewGuid().ToString("N")[..12];
        await using var a = await StartNodeAsync(prefix, "node-a");
        await using var b = await StartNodeAsync(prefix, "node-b");
        await UntilEachNodeSeesTheOtherAsync(a, b);

        await using var client = await StreamClient.ConnectHttpStreamAsync(a.BaseAddress, $"{{\"token\":\"{Tokens.Connection("ada", a.Time.GetUtcNow())}\"}}");
        Assert.Equal(a.Node.Uid, client.Node);
        Assert.Null(b.Node.FindEmulationSession(client.Session));

        // Subscribe through B: the reply comes over A's stream.
        var subscribe = await client.CallAsync("\"subscribe\":{\"channel\":\"chat:across\"}", b.BaseAddress);
        Assert.True(subscribe.TryGetProperty("subscribe", out _), subscribe.ToString());
        Assert.Equal(["chat:across"], a.Node.FindEmulationSession(client.Session)!.Channels);

        // A publication made on B reaches the subscriber on A.
        using (var api = b.Api())
        {
            await Api.PostAsync(api, "publish", "{\"channel\":\"chat:across\",\"data\":{\"from\":\"api\"}}");
        }
        var push = (await client.NextNonPingAsync())!.Value.GetProperty("push");
        Assert.Equal("api", push.GetProperty("pub").GetProperty("data").GetProperty("from").GetString());

        // The client's own publish, sent through B: its reply and the publication (in either order).
        var publishId = await client.CommandAsync("\"publish\":{\"channel\":\"chat:across\",\"data\":{\"from\":\"client\"}}", b.BaseAddress);
        JsonElement? publishReply = null;
        JsonElement? publication = null;
        while (publishReply is null || publication is null)
        {
            var message = (await client.NextNonPingAsync())!.Value;
            if (message.TryGetProperty("id", out var id) && id.GetInt32() == publishId)
            {
                publishReply = message;
            }
            else if (message.TryGetProperty("push", out var p) && p.TryGetProperty("pub", out var pub))
            {
                publication = pub;
            }
        }
        Assert.True(publishReply.Value.TryGetProperty("publish", out _), publishReply.Value.ToString());
        Assert.Equal("client", publication.Value.GetProperty("data").GetProperty("from").GetString());

        // Presence, asked through B, names the user on A.
        var presence = await client.CallAsync("\"presence\":{\"channel\":\"chat:across\"}", b.BaseAddress);
        var clients = presence.GetProperty("presence").GetProperty("presence").EnumerateObject().Select(c => c.Value.GetProperty("user").GetString()).ToList();
        Assert.Equal(["ada"], clients);
    }

    [Fact]
    public async Task A_request_for_a_node_that_is_not_live_is_404_and_one_for_a_gone_session_changes_nothing()
    {
        var prefix = "t" + Guid.NewGuid().ToString("N")[..12];
        await using var a = await StartNodeAsync(prefix, "node-a");
        await using var b = await StartNodeAsync(prefix, "node-b");
        await UntilEachNodeSeesTheOtherAsync(a, b);

        var session = new string('b', 32);
        using (var unknownNode = await StreamClient.PostEmulationAsync(b.BaseAddress, $"{{\"session\":\"{session}\",\"node\":\"{Guid.NewGuid()}\",\"data\":\"{{}}\"}}"))
        {
            Assert.Equal(HttpStatusCode.NotFound, unknownNode.StatusCode);
        }
        // A live node, a session it does not hold: forwarded (B cannot know), dropped there.
        using (var forwarded = await StreamClient.PostEmulationAsync(b.BaseAddress, $"{{\"session\":\"{session}\",\"node\":\"{a.Node.Uid}\",\"data\":\"{{}}\"}}"))
        {
            Assert.Equal(HttpStatusCode.NoContent, forwarded.StatusCode);
        }
        // Asked of A itself, the answer is exact.
        using (var here = await StreamClient.PostEmulationAsync(a.BaseAddress, $"{{\"session\":\"{session}\",\"node\":\"{a.Node.Uid}\",\"data\":\"{{}}\"}}"))
        {
            Assert.Equal(HttpStatusCode.NotFound, here.StatusCode);
        }
        Assert.Empty(a.Errors.Entries);
    }
}
