using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Switchboard.Channels;
using Switchboard.Engine;
using Switchboard.Engine.Redis;
using Switchboard.Testing;

namespace Switchboard.Core.Tests.Engine;

/// <summary>
/// What every revocation store does, run against memory, one redis-server, two shards and a
/// Redis Cluster: revoked tokens are refused until the time given, a user's older tokens (and
/// those without <c>iat</c>) are refused, and nothing else is.
/// </summary>
public abstract class TokenRevocationStoreTests : IAsyncLifetime
{
    private IAsyncDisposable? _owner;

    protected FakeTimeProvider Time { get; } = new(DateTimeOffset.UtcNow);

    protected string Prefix { get; } = "sbrev-" + Guid.NewGuid().ToString("N")[..12];

    protected ITokenRevocationStore Store { get; private set; } = null!;

    protected abstract Task<(ITokenRevocationStore Store, IAsyncDisposable? Owner)> CreateAsync(FakeTimeProvider time);

    public async Task InitializeAsync() => (Store, _owner) = await CreateAsync(Time);

    public async Task DisposeAsync()
    {
        if (_owner is not null)
        {
            await _owner.DisposeAsync();
        }
    }

    private Task<bool> Revoked(string? jti, string? user, DateTimeOffset? iat) => Store.IsRevokedAsync(jti, user, iat, CancellationToken.None);

    [Fact]
    public async Task A_revoked_jti_is_refused_until_its_time_and_other_jtis_are_not()
    {
        var now = Time.GetUtcNow();
        await Store.RevokeTokenAsync("jti-1", now.AddMinutes(5), CancellationToken.None);
        Assert.True(await Revoked("jti-1", null, null));
        Assert.True(await Revoked("jti-1", "someone", now));
        Assert.False(await Revoked("jti-2", "someone", now));
        Time.Advance(TimeSpan.FromMinutes(6));
        Assert.False(await Revoked("jti-1", null, null));
    }

    [Fact]
    public async Task A_users_tokens_issued_before_the_time_are_refused_and_later_ones_are_not()
    {
        var now = Time.GetUtcNow();
        var before = DateTimeOffset.FromUnixTimeSeconds(now.ToUnixTimeSeconds());
        await Store.InvalidateUserTokensAsync("user-{a}.b", before, now.AddMinutes(5), CancellationToken.None);
        Assert.True(await Revoked(null, "user-{a}.b", before.AddSeconds(-1)));
        Assert.True(await Revoked("any-jti", "user-{a}.b", null));
        Assert.False(await Revoked(null, "user-{a}.b", before));
        Assert.False(await Revoked(null, "other", before.AddSeconds(-100)));

        // An earlier time later does not lower the bar; a later one raises it.
        await Store.InvalidateUserTokensAsync("user-{a}.b", before.AddHours(-1), now.AddMinutes(5), CancellationToken.None);
        Assert.True(await Revoked(null, "user-{a}.b", before.AddSeconds(-1)));
        await Store.InvalidateUserTokensAsync("user-{a}.b", before.AddSeconds(10), now.AddMinutes(5), CancellationToken.None);
        Assert.True(await Revoked(null, "user-{a}.b", before.AddSeconds(5)));

        Time.Advance(TimeSpan.FromMinutes(6));
        Assert.False(await Revoked(null, "user-{a}.b", null));
    }
}

public sealed class MemoryTokenRevocationStoreTests : TokenRevocationStoreTests
{
    protected override Task<(ITokenRevocationStore Store, IAsyncDisposable? Owner)> CreateAsync(FakeTimeProvider time)
        => Task.FromResult<(ITokenRevocationStore, IAsyncDisposable?)>((new MemoryTokenRevocationStore(time), null));
}

internal static class RevocationEngines
{
    public static async Task<(ITokenRevocationStore, IAsyncDisposable?)> ConnectAsync(RedisOptions options, TimeProvider time)
    {
        var engine = await RedisEngine.ConnectAsync(options, time, NullLoggerFactory.Instance, CancellationToken.None);
        return (engine.Revocations, engine);
    }
}

public sealed class RedisTokenRevocationStoreTests(RedisServerFixture redis) : TokenRevocationStoreTests, IClassFixture<RedisServerFixture>
{
    protected override Task<(ITokenRevocationStore Store, IAsyncDisposable? Owner)> CreateAsync(FakeTimeProvider time)
        => RevocationEngines.ConnectAsync(new RedisOptions { Addresses = [redis.Server.Address], Prefix = Prefix }, time);

    [Fact]
    public async Task Revocation_keys_carry_a_ttl_so_redis_forgets_them()
    {
        await Store.RevokeTokenAsync("ttl-jti", Time.GetUtcNow().AddMinutes(5), CancellationToken.None);
        var ttl = (long)(await redis.Server.CommandAsync("PTTL", $"{Prefix}.revoked-token.{{ttl-jti}}"))!;
        Assert.InRange(ttl, 1, (long)TimeSpan.FromMinutes(7).TotalMilliseconds);
    }
}

public sealed class ShardedRedisTokenRevocationStoreTests(TwoRedisServersFixture redis) : TokenRevocationStoreTests, IClassFixture<TwoRedisServersFixture>
{
    protected override Task<(ITokenRevocationStore Store, IAsyncDisposable? Owner)> CreateAsync(FakeTimeProvider time)
        => RevocationEngines.ConnectAsync(new RedisOptions { Addresses = [.. redis.Servers.Select(s => s.Address)], Prefix = Prefix }, time);
}

public sealed class RedisClusterTokenRevocationStoreTests(RedisClusterFixture redis) : TokenRevocationStoreTests, IClassFixture<RedisClusterFixture>
{
    protected override Task<(ITokenRevocationStore Store, IAsyncDisposable? Owner)> CreateAsync(FakeTimeProvider time)
        => RevocationEngines.ConnectAsync(new RedisOptions { Addresses = [redis.Cluster.ConfigurationString], Cluster = true, Prefix = Prefix }, time);
}
