using System.Text.Json;

namespace Switchboard.FunctionalTests;

/// <summary>Heartbeats, deadlines and expiries, driven by the server's fake clock.</summary>
[Collection(ServerCollection.Name)]
public sealed class LifecycleTests(ServerFixture server)
{
    private static readonly TimeSpan Second = TimeSpan.FromSeconds(1);

    // The heartbeat sweeps once a second: advance second by second, as a real clock would.
    private void Advance(TimeSpan by)
    {
        for (var t = TimeSpan.Zero; t < by; t += Second)
        {
            server.Time.Advance(Second);
        }
    }

    /// <summary>
    /// Advances the clock while a well-behaved client answers every ping: at each ping the test
    /// waits for the pong to be on the wire before the clock moves on, as it would in real time.
    /// </summary>
    private async Task AdvanceAnsweringPingsAsync(RawClient client, DateTimeOffset connectedAt, TimeSpan by)
    {
        client.AutoPong = true;
        var interval = TimeSpan.FromSeconds(25);
        for (var t = TimeSpan.Zero; t < by; t += Second)
        {
            server.Time.Advance(Second);
            var sinceConnect = server.Time.GetUtcNow() - connectedAt;
            if (sinceConnect.Ticks % interval.Ticks == 0)
            {
                await client.WaitForPingsAsync((int)(sinceConnect / interval));
                await client.CommandAsync("\"rpc\":{\"method\":\"barrier\"}"); // answered after the pong is handled
            }
        }
    }

    private static async Task<bool> IsAliveAsync(RawClient client, string channel)
    {
        var reply = await client.CommandAsync($"\"subscribe\":{{\"channel\":\"{channel}\"}}");
        return reply.TryGetProperty("subscribe", out _);
    }

    [Fact]
    public async Task The_server_pings_every_interval_and_a_pong_keeps_the_connection()
    {
        await using var client = await server.ConnectAsync();
        Advance(TimeSpan.FromSeconds(25));
        var ping = await client.NextAsync();
        Assert.Equal(JsonValueKind.Object, ping.ValueKind);
        Assert.Empty(ping.EnumerateObject());
        await client.SendRawAsync("{}");
        Assert.True(await IsAliveAsync(client, "plain:pong-1")); // the pong was handled before this reply
        Advance(TimeSpan.FromSeconds(20));
        Assert.True(await IsAliveAsync(client, "plain:pong-2"));
    }

    [Fact]
    public async Task No_pong_within_the_timeout_closes_with_3012()
    {
        await using var client = await server.ConnectAsync();
        Advance(TimeSpan.FromSeconds(25));
        await client.NextAsync(); // the ping, left unanswered
        Advance(TimeSpan.FromSeconds(8));
        Assert.Equal(3012, await client.ClosedAsync());
    }

    [Fact]
    public async Task A_pong_with_no_ping_outstanding_closes_with_bad_request()
    {
        await using var client = await server.ConnectAsync();
        await client.SendRawAsync("{}");
        Assert.Equal(3501, await client.ClosedAsync());
    }

    [Fact]
    public async Task A_connection_that_never_sends_connect_is_closed_as_stale()
    {
        await using var client = await RawClient.OpenAsync(server.WebSocketUri);
        // The upgrade is done when OpenAsync returns; give the server's read loop a turn by
        // asking another connection something, then advance past the connect deadline.
        await using var other = await server.ConnectAsync();
        Advance(TimeSpan.FromSeconds(10));
        Assert.Equal(3502, await client.ClosedAsync());
    }

    [Fact]
    public async Task A_connection_whose_token_expires_unrefreshed_is_closed_with_3005()
    {
        var connectedAt = server.Time.GetUtcNow();
        await using var client = await server.ConnectAsync(Tokens.Connection("hank", connectedAt, ttlSeconds: 30));
        await AdvanceAnsweringPingsAsync(client, connectedAt, TimeSpan.FromSeconds(54));
        Assert.True(await IsAliveAsync(client, "plain:grace")); // within the close delay
        server.Time.Advance(Second);
        Assert.Equal(3005, await client.ClosedAsync());
    }

    [Fact]
    public async Task A_refreshed_connection_outlives_its_first_token()
    {
        var now = server.Time.GetUtcNow();
        await using var client = await server.ConnectAsync(Tokens.Connection("ivy", now, ttlSeconds: 30));
        var refresh = (await client.CommandAsync($"\"refresh\":{{\"token\":\"{Tokens.Connection("ivy", now, ttlSeconds: 3600)}\"}}")).GetProperty("refresh");
        Assert.True(refresh.GetProperty("expires").GetBoolean());
        Assert.InRange(refresh.GetProperty("ttl").GetInt32(), 3590, 3600);
        await AdvanceAnsweringPingsAsync(client, now, TimeSpan.FromSeconds(70));
        Assert.True(await IsAliveAsync(client, "plain:refreshed"));
    }

    [Fact]
    public async Task A_refresh_with_another_users_token_closes_with_invalid_token()
    {
        var now = server.Time.GetUtcNow();
        await using var client = await server.ConnectAsync(Tokens.Connection("jack", now));
        await client.SendRawAsync($"{{\"id\":50,\"refresh\":{{\"token\":\"{Tokens.Connection("jill", now)}\"}}}}");
        Assert.Equal(3500, await client.ClosedAsync());
    }

    [Fact]
    public async Task An_expired_subscription_is_ended_with_2501_and_a_sub_refresh_prevents_it()
    {
        var now = server.Time.GetUtcNow();
        await using var client = await server.ConnectAsync(Tokens.Connection("kim", now));
        foreach (var channel in new[] { "$secret:expiring", "$secret:refreshed" })
        {
            var token = Tokens.Subscription("kim", channel, now, ttlSeconds: 30);
            var sub = (await client.CommandAsync($"\"subscribe\":{{\"channel\":\"{channel}\",\"token\":\"{token}\"}}")).GetProperty("subscribe");
            Assert.Equal(30, sub.GetProperty("ttl").GetInt32());
        }
        var fresh = Tokens.Subscription("kim", "$secret:refreshed", now, ttlSeconds: 3600);
        var refreshed = (await client.CommandAsync($"\"sub_refresh\":{{\"channel\":\"$secret:refreshed\",\"token\":\"{fresh}\"}}")).GetProperty("sub_refresh");
        Assert.True(refreshed.GetProperty("expires").GetBoolean());

        await AdvanceAnsweringPingsAsync(client, now, TimeSpan.FromSeconds(55));
        var push = await client.NextPushAsync();
        Assert.Equal("$secret:expiring", push.GetProperty("channel").GetString());
        Assert.Equal(2501, push.GetProperty("unsubscribe").GetProperty("code").GetInt32());
        // The refreshed subscription is still there: subscribing again says so.
        var again = await client.CommandAsync($"\"subscribe\":{{\"channel\":\"$secret:refreshed\",\"token\":\"{fresh}\"}}");
        Assert.Equal(105, again.GetProperty("error").GetProperty("code").GetInt32());
    }
}
