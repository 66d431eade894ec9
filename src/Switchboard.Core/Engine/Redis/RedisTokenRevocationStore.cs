using StackExchange.Redis;

namespace Switchboard.Engine.Redis;

/// <summary>
/// Revocations in Redis, so every node refuses the same tokens: a key per revoked <c>jti</c>
/// (value: until when, node clock) and a hash per user whose older tokens are refused. Keys carry
/// a TTL of their remaining life (plus a margin), so Redis forgets them when they stop mattering.
/// Each key lives on the shard its jti or user hashes to.
/// </summary>
public sealed class RedisTokenRevocationStore : ITokenRevocationStore
{
    private static readonly TimeSpan Margin = TimeSpan.FromMinutes(1);
    private readonly RedisShard[] _shards;
    private readonly TimeProvider _time;

    internal RedisTokenRevocationStore(RedisShard[] shards, TimeProvider time)
    {
        _shards = shards;
        _time = time;
    }

    /// <inheritdoc/>
    public async Task RevokeTokenAsync(string jti, DateTimeOffset expireAt, CancellationToken cancellationToken)
    {
        var ttl = expireAt - _time.GetUtcNow() + Margin;
        if (ttl <= Margin)
        {
            return; // the token has expired anyway
        }
        var shard = _shards[JumpHash.Bucket(jti, _shards.Length)];
        await shard.ScriptAsync(RedisScripts.RevokeToken, [shard.RevokedTokenKey(jti)], [expireAt.ToUnixTimeMilliseconds(), (long)ttl.TotalMilliseconds]).ConfigureAwait(false);
    }

    /// <inheritdoc/>
    public async Task InvalidateUserTokensAsync(string user, DateTimeOffset issuedBefore, DateTimeOffset expireAt, CancellationToken cancellationToken)
    {
        var now = _time.GetUtcNow();
        var ttl = expireAt - now + Margin;
        if (ttl <= Margin)
        {
            return;
        }
        var shard = _shards[JumpHash.Bucket(user, _shards.Length)];
        await shard.ScriptAsync(
            RedisScripts.InvalidateUserTokens,
            [shard.UserTokensRevokedKey(user)],
            [issuedBefore.ToUnixTimeMilliseconds(), expireAt.ToUnixTimeMilliseconds(), (long)ttl.TotalMilliseconds, now.ToUnixTimeMilliseconds()]).ConfigureAwait(false);
    }

    /// <inheritdoc/>
    public async Task<bool> IsRevokedAsync(string? jti, string? user, DateTimeOffset? issuedAt, CancellationToken cancellationToken)
    {
        var now = _time.GetUtcNow().ToUnixTimeMilliseconds();
        var hasJti = !string.IsNullOrEmpty(jti);
        var hasUser = !string.IsNullOrEmpty(user);
        if (!hasJti && !hasUser)
        {
            return false;
        }
        if (_shards.Length == 1 && !_shards[0].Cluster)
        {
            // One server: one round trip reads both (a missing side reads a key that never exists).
            var shard = _shards[0];
            var both = (RedisResult[])(await shard.ScriptAsync(
                RedisScripts.ReadRevocation,
                [shard.RevokedTokenKey(hasJti ? jti! : NoKey), shard.UserTokensRevokedKey(hasUser ? user! : NoKey)],
                []).ConfigureAwait(false))!;
            return TokenRevoked(both[0], now) || UserRevoked(both[1], both[2], now, issuedAt);
        }
        // Shards or Cluster slots differ: each key read where it lives, both at once.
        var tokenTask = hasJti ? ReadTokenAsync(jti!) : Task.FromResult(RedisResult.Create(RedisValue.Null));
        var userTask = hasUser ? ReadUserAsync(user!) : Task.FromResult<RedisResult[]?>(null);
        var token = await tokenTask.ConfigureAwait(false);
        var users = await userTask.ConfigureAwait(false);
        return TokenRevoked(token, now) || (users is not null && UserRevoked(users[0], users[1], now, issuedAt));
    }

    private const string NoKey = "\u0000";

    private async Task<RedisResult> ReadTokenAsync(string jti)
    {
        var shard = _shards[JumpHash.Bucket(jti, _shards.Length)];
        return await shard.ScriptAsync("return redis.call('get', KEYS[1])", [shard.RevokedTokenKey(jti)], []).ConfigureAwait(false);
    }

    private async Task<RedisResult[]?> ReadUserAsync(string user)
    {
        var shard = _shards[JumpHash.Bucket(user, _shards.Length)];
        return (RedisResult[]?)await shard.ScriptAsync("return redis.call('hmget', KEYS[1], 'b', 'u')", [shard.UserTokensRevokedKey(user)], []).ConfigureAwait(false);
    }

    private static bool TokenRevoked(RedisResult until, long now)
        => !until.IsNull && (long)until > now;

    private static bool UserRevoked(RedisResult before, RedisResult until, long now, DateTimeOffset? issuedAt)
        => !before.IsNull && !until.IsNull && (long)until > now
            && (issuedAt is not { } iat || iat.ToUnixTimeMilliseconds() < (long)before);
}
