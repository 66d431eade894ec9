using Microsoft.Extensions.Time.Testing;
using Switchboard.Engine;
using Switchboard.Protocol;

namespace Switchboard.Core.Tests;

public class MemoryPresenceTests
{
    private readonly FakeTimeProvider _time = new();
    private readonly MemoryPresenceManager _presence;

    public MemoryPresenceTests() => _presence = new MemoryPresenceManager(_time);

    private Task Add(string client, string user, TimeSpan ttl)
        => _presence.AddPresenceAsync("c", new ClientInfo { Client = client, User = user }, ttl, CancellationToken.None);

    [Fact]
    public async Task Counts_clients_and_distinct_users()
    {
        await Add("1", "alice", TimeSpan.FromMinutes(1));
        await Add("2", "alice", TimeSpan.FromMinutes(1));
        await Add("3", "bob", TimeSpan.FromMinutes(1));
        var stats = await _presence.PresenceStatsAsync("c", CancellationToken.None);
        Assert.Equal(new PresenceStats(3, 2), stats);
    }

    [Fact]
    public async Task An_entry_expires_unless_refreshed()
    {
        await Add("1", "alice", TimeSpan.FromSeconds(60));
        await Add("2", "bob", TimeSpan.FromSeconds(60));
        _time.Advance(TimeSpan.FromSeconds(40));
        await Add("2", "bob", TimeSpan.FromSeconds(60));
        _time.Advance(TimeSpan.FromSeconds(30));
        var presence = await _presence.PresenceAsync("c", CancellationToken.None);
        Assert.Equal(["2"], presence.Keys);
    }

    [Fact]
    public async Task Removing_an_entry_removes_it_from_presence()
    {
        await Add("1", "alice", TimeSpan.FromSeconds(60));
        await _presence.RemovePresenceAsync("c", "1", CancellationToken.None);
        Assert.Empty(await _presence.PresenceAsync("c", CancellationToken.None));
    }
}
