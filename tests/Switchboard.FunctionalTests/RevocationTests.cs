namespace Switchboard.FunctionalTests;

/// <summary>
/// Revocation through the server API, as a user sees it: a revoked token (by <c>jti</c>) no
/// longer connects, refreshes or subscribes; invalidating a user's tokens disconnects the user and
/// only tokens issued afterwards connect. The same scenarios on the Redis engine, across two
/// nodes, are in <see cref="RedisRevocationTests"/>.
/// </summary>
public sealed class RevocationTests : IAsyncLifetime
{
    private ServerFixture? _server;

    private ServerFixture Server => _server!;

    public async Task InitializeAsync() => _server = await ServerFixture.StartAsync();

    public async Task DisposeAsync()
    {
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }
    }

    internal static string Token(ServerFixture server, string user, string? jti = null, bool iat = true)
    {
        var now = server.Time.GetUtcNow().ToUnixTimeSeconds();
        return Tokens.Jwt($"{{\"sub\":\"{user}\",\"exp\":{now + 3600}{(iat ? $",\"iat\":{now}" : "")}{(jti is null ? "" : $",\"jti\":\"{jti}\"")}}}");
    }

    internal static async Task ApiOkAsync(ServerFixture server, string method, string body)
    {
        using var api = server.Api();
        var response = await Api.PostAsync(api, method, body);
        Assert.True(response.TryGetProperty("result", out _), response.ToString());
    }

    [Fact]
    public async Task A_revoked_token_can_neither_connect_nor_refresh_while_the_users_other_tokens_work()
    {
        var revoked = Token(Server, "amy", jti: "jti-amy-1");
        var exp = Server.Time.GetUtcNow().ToUnixTimeSeconds() + 3600;
        await using var open = await Server.ConnectAsync(revoked);
        Assert.Equal(0, await TokenAuth.RefreshOutcomeAsync(open, revoked));

        await ApiOkAsync(Server, "revoke_token", $"{{\"jti\":\"jti-amy-1\",\"expire_at\":{exp}}}");

        Assert.Equal(3500, await TokenAuth.ConnectOutcomeAsync(Server.WebSocketUri, revoked));
        Assert.Equal(3500, await TokenAuth.RefreshOutcomeAsync(open, revoked));
        Assert.Equal(0, await TokenAuth.ConnectOutcomeAsync(Server.WebSocketUri, Token(Server, "amy", jti: "jti-amy-2")));
        Assert.Empty(Server.Errors.Entries);
    }

    [Fact]
    public async Task A_revoked_subscription_token_cannot_subscribe()
    {
        var now = Server.Time.GetUtcNow().ToUnixTimeSeconds();
        string SubToken(string jti) => Tokens.Jwt($"{{\"sub\":\"bea\",\"channel\":\"$secret:vault\",\"exp\":{now + 600},\"jti\":\"{jti}\"}}");
        await ApiOkAsync(Server, "revoke_token", $"{{\"jti\":\"sub-jti-1\",\"expire_at\":{now + 600}}}");

        await using var client = await Server.ConnectAsync(Token(Server, "bea"));
        var ok = await client.CommandAsync($"\"subscribe\":{{\"channel\":\"$secret:vault\",\"token\":\"{SubToken("sub-jti-2")}\"}}");
        Assert.True(ok.TryGetProperty("subscribe", out _), ok.ToString());
        await client.CommandAsync("\"unsubscribe\":{\"channel\":\"$secret:vault\"}");
        await client.SendRawAsync($"{{\"id\":99,\"subscribe\":{{\"channel\":\"$secret:vault\",\"token\":\"{SubToken("sub-jti-1")}\"}}}}");
        Assert.Equal(3500, await client.ClosedAsync());
    }

    [Fact]
    public async Task Invalidating_a_users_tokens_disconnects_the_user_and_only_tokens_issued_afterwards_connect()
    {
        var old = Token(Server, "cleo");
        var first = await Server.ConnectAsync(old);
        var second = await Server.ConnectAsync(old);
        await using var bystander = await Server.ConnectAsync(Token(Server, "dora"));

        await ApiOkAsync(Server, "invalidate_user_tokens", "{\"user\":\"cleo\"}");

        Assert.Equal(3503, await first.ClosedAsync());
        Assert.Equal(3503, await second.ClosedAsync());
        await first.DisposeAsync();
        await second.DisposeAsync();
        Assert.Equal(3500, await TokenAuth.ConnectOutcomeAsync(Server.WebSocketUri, old));
        Assert.Equal(3500, await TokenAuth.ConnectOutcomeAsync(Server.WebSocketUri, Token(Server, "cleo", iat: false)));
        // Another user's connection and tokens are untouched.
        Assert.Equal(0, await TokenAuth.RefreshOutcomeAsync(bystander, Token(Server, "dora")));

        Server.Time.Advance(TimeSpan.FromSeconds(1));
        await using var again = await Server.ConnectAsync(Token(Server, "cleo"));
        Assert.Equal(0, await TokenAuth.RefreshOutcomeAsync(again, Token(Server, "cleo")));
        Assert.Equal(3500, await TokenAuth.RefreshOutcomeAsync(again, old));
    }

    [Fact]
    public async Task Revocation_methods_refuse_requests_without_their_subject()
    {
        using var api = Server.Api();
        var noJti = await Api.PostAsync(api, "revoke_token", "{}");
        Assert.Equal(107, noJti.GetProperty("error").GetProperty("code").GetInt32());
        var noUser = await Api.PostAsync(api, "invalidate_user_tokens", "{\"issued_before\":1}");
        Assert.Equal(107, noUser.GetProperty("error").GetProperty("code").GetInt32());
        var batch = await Api.PostAsync(api, "batch", "{\"commands\":[{\"revoke_token\":{\"jti\":\"in-batch\"}}]}");
        Assert.True(batch.GetProperty("result").GetProperty("replies")[0].TryGetProperty("revoke_token", out _), batch.ToString());
        Assert.Equal(3500, await TokenAuth.ConnectOutcomeAsync(Server.WebSocketUri, Token(Server, "eve", jti: "in-batch")));
    }
}

/// <summary>Revocation on the Redis engine: revoked on one node, refused on the other.</summary>
public sealed class RedisRevocationTests : IAsyncLifetime
{
    private RedisServer? _redis;

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
            $"--Switchboard:Redis:Addresses:0={_redis!.Address}",
            $"--Switchboard:Redis:Prefix={prefix}",
            $"--Switchboard:NodeName={name}",
            "--Switchboard:Redis:NodeHeartbeatInterval=00:00:01",
            "--Switchboard:Redis:NodeTtl=00:00:03");

    [Fact]
    public async Task Tokens_revoked_through_one_node_are_refused_by_the_other_and_the_user_is_disconnected_there()
    {
        var prefix = "t" + Guid.NewGuid().ToString("N")[..12];
        await using var a = await StartNodeAsync(prefix, "node-a");
        await using var b = await StartNodeAsync(prefix, "node-b");

        // A single token, by jti.
        var revoked = RevocationTests.Token(b, "finn", jti: "redis-jti-1");
        await using var onB = await b.ConnectAsync(revoked);
        await RevocationTests.ApiOkAsync(a, "revoke_token", $"{{\"jti\":\"redis-jti-1\",\"expire_at\":{a.Time.GetUtcNow().ToUnixTimeSeconds() + 3600}}}");
        Assert.Equal(3500, await TokenAuth.ConnectOutcomeAsync(b.WebSocketUri, revoked));
        Assert.Equal(3500, await TokenAuth.RefreshOutcomeAsync(onB, revoked));

        // Every token of a user: the user's connection on b is closed, old tokens refused there.
        var old = RevocationTests.Token(b, "gus");
        var gusOnB = await b.ConnectAsync(old);
        // The nodes' fake clocks started apart: "before" is after both of them.
        var before = Math.Max(a.Time.GetUtcNow().ToUnixTimeSeconds(), b.Time.GetUtcNow().ToUnixTimeSeconds()) + 1;
        await RevocationTests.ApiOkAsync(a, "invalidate_user_tokens", $"{{\"user\":\"gus\",\"issued_before\":{before}}}");
        Assert.Equal(3503, await gusOnB.ClosedAsync());
        await gusOnB.DisposeAsync();
        Assert.Equal(3500, await TokenAuth.ConnectOutcomeAsync(b.WebSocketUri, old));
        Assert.Equal(3500, await TokenAuth.ConnectOutcomeAsync(a.WebSocketUri, old));

        b.Time.SetUtcNow(DateTimeOffset.FromUnixTimeSeconds(before));
        Assert.Equal(0, await TokenAuth.ConnectOutcomeAsync(b.WebSocketUri, RevocationTests.Token(b, "gus")));
    }
}
