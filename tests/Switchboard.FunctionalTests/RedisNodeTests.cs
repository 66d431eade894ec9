using System.Net.Http;
using System.Text.Json;
using Switchboard.Testing;

namespace Switchboard.FunctionalTests;

/// <summary>
/// Nodes on the Redis engine, in process (each with its own fake clock), sharing one real
/// redis-server: the registry, the cluster-wide user limit, and what subscribers see when Redis
/// drops its pub/sub connection, loses its data or goes away. Each test has its own key prefix,
/// so its nodes see only each other.
/// </summary>
public sealed class RedisNodeTests : IAsyncLifetime
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

    private Task<ServerFixture> StartNodeAsync(string prefix, string name, params string[] extra)
        => ServerFixture.StartAsync([
            "--Switchboard:Engine=redis",
            $"--Switchboard:Redis:Addresses:0={Redis.Address}",
            $"--Switchboard:Redis:Prefix={prefix}",
            $"--Switchboard:NodeName={name}",
            "--Switchboard:Redis:NodeHeartbeatInterval=00:00:01",
            "--Switchboard:Redis:NodeTtl=00:00:03",
            .. extra]);

    private static string Prefix() => "t" + Guid.NewGuid().ToString("N")[..12];

    // Moves every node's clock one heartbeat on until each lists all of them.
    private static async Task UntilEveryNodeSeesAllAsync(params ServerFixture[] nodes)
    {
        await Poll.UntilAsync(async () =>
        {
            foreach (var node in nodes)
            {
                node.Time.Advance(TimeSpan.FromSeconds(1));
            }
            foreach (var node in nodes)
            {
                if ((await NodeNamesAsync(node)).Count != nodes.Length)
                {
                    return false;
                }
            }
            return true;
        });
    }

    private static async Task<List<string>> NodeNamesAsync(ServerFixture node)
    {
        using var api = node.Api();
        var info = await Api.PostAsync(api, "info", "{}");
        return [.. info.GetProperty("result").GetProperty("nodes").EnumerateArray().Select(n => n.GetProperty("name").GetString()!).Order(StringComparer.Ordinal)];
    }

    [Fact]
    public async Task Info_on_any_node_lists_every_node_and_a_silent_node_drops_out_after_its_ttl()
    {
        var prefix = Prefix();
        await using var a = await StartNodeAsync(prefix, "node-a");
        await using var b = await StartNodeAsync(prefix, "node-b");
        await UntilEveryNodeSeesAllAsync(a, b);
        Assert.Equal(["node-a", "node-b"], await NodeNamesAsync(a));

        // b's clock stands still, so b stops announcing; a's moves past the TTL.
        await Poll.UntilAsync(async () =>
        {
            a.Time.Advance(TimeSpan.FromSeconds(1));
            return (await NodeNamesAsync(a)).Count == 1;
        });
        Assert.Equal(["node-a"], await NodeNamesAsync(a));
        // Within two TTLs: a dropped b no later than 3 s (NodeTtl) + 1 s of heartbeat granularity.
        Assert.True(a.Time.GetUtcNow() - b.Time.GetUtcNow() <= TimeSpan.FromSeconds(6), $"{a.Time.GetUtcNow() - b.Time.GetUtcNow()}");
    }

    [Fact]
    public async Task A_node_that_shuts_down_leaves_info_at_once()
    {
        var prefix = Prefix();
        await using var a = await StartNodeAsync(prefix, "node-a");
        var b = await StartNodeAsync(prefix, "node-b");
        await UntilEveryNodeSeesAllAsync(a, b);
        await b.DisposeAsync();
        // No clock moves: only b's goodbye can remove it.
        await Poll.UntilAsync(async () => (await NodeNamesAsync(a)).Count == 1);
        Assert.Equal(["node-a"], await NodeNamesAsync(a));
    }

    [Fact]
    public async Task The_user_connection_limit_counts_the_users_connections_on_every_node()
    {
        var prefix = Prefix();
        await using var a = await StartNodeAsync(prefix, "node-a", "--Switchboard:Client:UserConnectionLimit=2");
        await using var b = await StartNodeAsync(prefix, "node-b", "--Switchboard:Client:UserConnectionLimit=2");
        await UntilEveryNodeSeesAllAsync(a, b);
        var token = Tokens.Connection("rosa", a.Time.GetUtcNow());
        await using var onA = await a.ConnectAsync(token);
        var onB = await b.ConnectAsync(token);

        await using (var third = await RawClient.OpenAsync(a.WebSocketUri))
        {
            await third.SendRawAsync($"{{\"id\":1,\"connect\":{{\"token\":\"{token}\"}}}}");
            Assert.Equal(3504, await third.ClosedAsync());
        }
        // Another user is not affected.
        await using var other = await b.ConnectAsync(Tokens.Connection("sam", b.Time.GetUtcNow()));

        // When the connection on b goes, the user may connect again (on either node).
        await onB.DisposeAsync();
        await Poll.UntilAsync(async () =>
        {
            await using var again = await RawClient.OpenAsync(a.WebSocketUri);
            var reply = await again.CommandAsync($"\"connect\":{{\"token\":\"{token}\"}}");
            return reply.TryGetProperty("connect", out _);
        });
    }

    [Fact]
    public async Task The_channels_api_of_any_node_counts_subscribers_on_every_node()
    {
        var prefix = Prefix();
        await using var a = await StartNodeAsync(prefix, "node-a");
        await using var b = await StartNodeAsync(prefix, "node-b");
        await UntilEveryNodeSeesAllAsync(a, b);
        await using var onA = await a.ConnectAsync(Tokens.Connection("yara", a.Time.GetUtcNow()));
        await using var onB = await b.ConnectAsync(Tokens.Connection("zed", b.Time.GetUtcNow()));
        await onA.CommandAsync("\"subscribe\":{\"channel\":\"chat:both\"}");
        await onB.CommandAsync("\"subscribe\":{\"channel\":\"chat:both\"}");
        await onB.CommandAsync("\"subscribe\":{\"channel\":\"chat:only-b\"}");
        using var api = a.Api();
        var channels = (await Api.PostAsync(api, "channels", "{\"pattern\":\"chat:*\"}")).GetProperty("result").GetProperty("channels");
        Assert.Equal(2, channels.GetProperty("chat:both").GetProperty("num_clients").GetInt32());
        Assert.Equal(1, channels.GetProperty("chat:only-b").GetProperty("num_clients").GetInt32());
    }

    [Fact]
    public async Task A_publication_through_one_node_reaches_subscribers_on_the_other_in_order()
    {
        var prefix = Prefix();
        await using var a = await StartNodeAsync(prefix, "node-a");
        await using var b = await StartNodeAsync(prefix, "node-b");
        await using var client = await b.ConnectAsync(Tokens.Connection("tess", b.Time.GetUtcNow()));
        var subscribed = await client.CommandAsync("\"subscribe\":{\"channel\":\"chat:cross\"}");
        var epoch = subscribed.GetProperty("subscribe").GetProperty("epoch").GetString();
        using var api = a.Api();
        for (var n = 1; n <= 20; n++)
        {
            await Api.PostAsync(api, "publish", $"{{\"channel\":\"chat:cross\",\"data\":{{\"n\":{n}}}}}");
        }
        var offsets = new List<ulong>();
        for (var n = 1; n <= 20; n++)
        {
            var pub = (await client.NextPushAsync()).GetProperty("pub");
            Assert.Equal(n, pub.GetProperty("data").GetProperty("n").GetInt32());
            offsets.Add(pub.GetProperty("offset").GetUInt64());
        }
        Assert.Equal([.. Enumerable.Range(1, 20).Select(i => (ulong)i)], offsets);
        // History read through a, with b's epoch: the same stream.
        var history = await Api.PostAsync(api, "history", "{\"channel\":\"chat:cross\",\"limit\":0}");
        Assert.Equal(epoch, history.GetProperty("result").GetProperty("epoch").GetString());
    }

    [Fact]
    public async Task When_redis_drops_the_pubsub_connection_subscribers_resubscribe_and_recover_what_they_missed()
    {
        await using var node = await StartNodeAsync(Prefix(), "node-a");
        await using var client = await node.ConnectAsync(Tokens.Connection("uma", node.Time.GetUtcNow()));
        var subscribed = (await client.CommandAsync("\"subscribe\":{\"channel\":\"chat:dropped\"}")).GetProperty("subscribe");
        var epoch = subscribed.GetProperty("epoch").GetString();
        using var api = node.Api();
        await Api.PostAsync(api, "publish", "{\"channel\":\"chat:dropped\",\"data\":{\"n\":1}}");
        Assert.Equal(1UL, (await client.NextPushAsync()).GetProperty("pub").GetProperty("offset").GetUInt64());

        await Redis.CommandAsync("CLIENT", "KILL", "TYPE", "pubsub");
        // Published while the node may not be listening: kept in the stream only.
        await Poll.UntilAsync(async () =>
        {
            var reply = await PostAsync(api, "publish", "{\"channel\":\"chat:dropped\",\"data\":{\"n\":2}}");
            return reply.TryGetProperty("result", out _);
        });

        // The node tells the subscriber to resubscribe (2500), whether or not it saw n=2.
        var unsubscribe = await NextUnsubscribeAsync(client);
        Assert.Equal(2500, unsubscribe.GetProperty("code").GetInt32());
        var recovered = (await client.CommandAsync($"\"subscribe\":{{\"channel\":\"chat:dropped\",\"recover\":true,\"epoch\":\"{epoch}\",\"offset\":1}}")).GetProperty("subscribe");
        Assert.True(recovered.GetProperty("recovered").GetBoolean());
        var missed = recovered.GetProperty("publications").EnumerateArray().ToList();
        Assert.Equal(2, Assert.Single(missed).GetProperty("data").GetProperty("n").GetInt32());
    }

    [Fact]
    public async Task A_stream_redis_lost_starts_a_new_epoch_and_its_subscribers_are_told_they_could_not_recover()
    {
        await using var node = await StartNodeAsync(Prefix(), "node-a");
        await using var client = await node.ConnectAsync(Tokens.Connection("vic", node.Time.GetUtcNow()));
        var epoch = (await client.CommandAsync("\"subscribe\":{\"channel\":\"chat:lost\"}")).GetProperty("subscribe").GetProperty("epoch").GetString();
        using var api = node.Api();
        await Api.PostAsync(api, "publish", "{\"channel\":\"chat:lost\",\"data\":{\"n\":1}}");
        await client.NextPushAsync();

        await Redis.CommandAsync("FLUSHALL");
        var published = (await Api.PostAsync(api, "publish", "{\"channel\":\"chat:lost\",\"data\":{\"n\":2}}")).GetProperty("result");
        var newEpoch = published.GetProperty("epoch").GetString();
        Assert.NotEqual(epoch, newEpoch);
        Assert.Equal(1UL, published.GetProperty("offset").GetUInt64());

        // Not a publication at offset 1 of a stream the client does not know: a resubscribe.
        var unsubscribe = await NextUnsubscribeAsync(client);
        Assert.Equal(2500, unsubscribe.GetProperty("code").GetInt32());
        var resubscribed = (await client.CommandAsync($"\"subscribe\":{{\"channel\":\"chat:lost\",\"recover\":true,\"epoch\":\"{epoch}\",\"offset\":1}}")).GetProperty("subscribe");
        Assert.True(resubscribed.GetProperty("was_recovering").GetBoolean());
        Assert.False(resubscribed.TryGetProperty("recovered", out var r) && r.GetBoolean());
        Assert.Equal(newEpoch, resubscribed.GetProperty("epoch").GetString());
    }

    [Fact]
    public async Task While_redis_is_down_the_node_answers_temporary_errors_and_works_again_when_it_is_back()
    {
        await using var node = await StartNodeAsync(Prefix(), "node-a");
        await using var client = await node.ConnectAsync(Tokens.Connection("wes", node.Time.GetUtcNow()));
        using var api = node.Api();
        await Redis.KillAsync();

        var subscribe = await client.CommandAsync("\"subscribe\":{\"channel\":\"chat:outage\"}");
        var error = subscribe.GetProperty("error");
        Assert.Equal(100, error.GetProperty("code").GetInt32());
        Assert.True(error.GetProperty("temporary").GetBoolean());
        var publish = await Api.PostAsync(api, "publish", "{\"channel\":\"chat:outage\",\"data\":{}}");
        Assert.Equal(100, publish.GetProperty("error").GetProperty("code").GetInt32());
        // Still connecting clients, and still live and (degraded) ready for the load balancer.
        await using var newcomer = await node.ConnectAsync();
        using var http = new HttpClient { BaseAddress = node.BaseAddress };
        using var ready = await http.GetAsync(new Uri("/healthz/ready", UriKind.Relative));
        Assert.Equal(System.Net.HttpStatusCode.OK, ready.StatusCode);
        Assert.Equal("Degraded", await ready.Content.ReadAsStringAsync());

        await Redis.RestartAsync();
        await Poll.UntilAsync(async () =>
        {
            var reply = await client.CommandAsync("\"subscribe\":{\"channel\":\"chat:outage\"}");
            return reply.TryGetProperty("subscribe", out _);
        });
        await Api.PostAsync(api, "publish", "{\"channel\":\"chat:outage\",\"data\":{\"back\":true}}");
        var push = await NextPubAsync(client);
        Assert.True(push.GetProperty("data").GetProperty("back").GetBoolean());
    }

    [Fact]
    public async Task Through_sentinel_a_node_finds_the_primary_and_follows_a_failover_without_losing_the_stream()
    {
        await using var replica = await RedisServer.StartAsync();
        await replica.CommandAsync("REPLICAOF", "127.0.0.1", Redis.Port.ToString(System.Globalization.CultureInfo.InvariantCulture));
        await Poll.UntilAsync(async () => ((string)(await replica.CommandAsync("INFO", "replication"))!).Contains("master_link_status:up", StringComparison.Ordinal), "the replica is in sync");
        await using var sentinel = await RedisSentinel.StartAsync(Redis);
        await using var node = await ServerFixture.StartAsync(
            "--Switchboard:Engine=redis",
            $"--Switchboard:Redis:Addresses:0={sentinel.Address},serviceName={RedisSentinel.ServiceName}",
            $"--Switchboard:Redis:Prefix={Prefix()}");
        await using var client = await node.ConnectAsync(Tokens.Connection("xena", node.Time.GetUtcNow()));
        var epoch = (await client.CommandAsync("\"subscribe\":{\"channel\":\"chat:failover\"}")).GetProperty("subscribe").GetProperty("epoch").GetString();
        using var api = node.Api();
        await Api.PostAsync(api, "publish", "{\"channel\":\"chat:failover\",\"data\":{\"n\":1}}");
        Assert.Equal(1, (await NextPubAsync(client)).GetProperty("data").GetProperty("n").GetInt32());

        await sentinel.CommandAsync("SENTINEL", "FAILOVER", RedisSentinel.ServiceName);
        await Poll.UntilAsync(async () => await sentinel.PrimaryPortAsync() == replica.Port, "the replica is promoted");
        // Until the node follows the switch, writes may meet the demoted primary (READONLY): a
        // temporary error, retried here as a client would.
        JsonElement published = default;
        await Poll.UntilAsync(async () =>
        {
            var reply = await PostAsync(api, "publish", "{\"channel\":\"chat:failover\",\"data\":{\"n\":2}}");
            return reply.TryGetProperty("result", out published);
        }, "a publish succeeds after the failover");
        Assert.Equal(epoch, published.GetProperty("epoch").GetString());
        Assert.Equal(2UL, published.GetProperty("offset").GetUInt64());

        // The subscriber gets n=2 live, or is told to resubscribe and recovers it: never a gap.
        var push = await client.NextPushAsync();
        while (!push.TryGetProperty("pub", out _) && !push.TryGetProperty("unsubscribe", out _))
        {
            push = await client.NextPushAsync();
        }
        if (push.TryGetProperty("unsubscribe", out var unsubscribe))
        {
            Assert.Equal(2500, unsubscribe.GetProperty("code").GetInt32());
            // While the node is still switching primaries, a subscribe may answer a temporary
            // error; the client retries, as the SDKs do.
            JsonElement recovered = default;
            await Poll.UntilAsync(async () =>
            {
                var reply = await client.CommandAsync($"\"subscribe\":{{\"channel\":\"chat:failover\",\"recover\":true,\"epoch\":\"{epoch}\",\"offset\":1}}");
                if (reply.TryGetProperty("error", out var error))
                {
                    Assert.True(error.GetProperty("temporary").GetBoolean(), error.ToString());
                    return false;
                }
                recovered = reply.GetProperty("subscribe");
                return true;
            }, "a resubscribe succeeds after the failover");
            Assert.True(recovered.GetProperty("recovered").GetBoolean());
            Assert.Equal(2, Assert.Single(recovered.GetProperty("publications").EnumerateArray()).GetProperty("data").GetProperty("n").GetInt32());
        }
        else
        {
            Assert.Equal(2, push.GetProperty("pub").GetProperty("data").GetProperty("n").GetInt32());
        }
    }

    private static async Task<JsonElement> PostAsync(HttpClient api, string method, string body)
    {
        using var content = new StringContent(body, System.Text.Encoding.UTF8, "application/json");
        using var response = await api.PostAsync(new Uri("/api/" + method, UriKind.Relative), content);
        return JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone();
    }

    private static async Task<JsonElement> NextUnsubscribeAsync(RawClient client)
    {
        while (true)
        {
            var push = await client.NextPushAsync();
            if (push.TryGetProperty("unsubscribe", out var unsubscribe))
            {
                return unsubscribe;
            }
        }
    }

    private static async Task<JsonElement> NextPubAsync(RawClient client)
    {
        while (true)
        {
            var push = await client.NextPushAsync();
            if (push.TryGetProperty("pub", out var pub))
            {
                return pub;
            }
        }
    }
}
