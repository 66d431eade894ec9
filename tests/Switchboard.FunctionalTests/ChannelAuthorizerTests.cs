using System.Text.Json;
using Switchboard.Sessions;
using Switchboard.Testing;

namespace Switchboard.FunctionalTests;

/// <summary>A server with namespace <c>club</c>, whose rooms the app's <see cref="ClubAuthorizer"/> guards.</summary>
public sealed class ClubServer : IAsyncLifetime
{
    private ServerFixture? _server;

    public ServerFixture Server => _server ?? throw new InvalidOperationException("not started");

    // The namespace rules let any signed-in client in; membership is the app's to decide.
    public async Task InitializeAsync() => _server = await ServerFixture.StartAsync(
        "--Switchboard:Namespaces:club:Presence=true",
        "--Switchboard:Namespaces:club:JoinLeave=true",
        "--Switchboard:Namespaces:club:HistorySize=10",
        "--Switchboard:Namespaces:club:HistoryTtl=00:10:00",
        "--Switchboard:Namespaces:club:AllowSubscribeForClient=true",
        "--Switchboard:Namespaces:club:AllowPublishForClient=true",
        "--Switchboard:Namespaces:club:AllowHistoryForClient=true",
        "--Switchboard:Namespaces:club:AllowPresenceForClient=true");

    public async Task DisposeAsync()
    {
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }
    }
}

public sealed class ChannelAuthorizerTests(ClubServer club) : IClassFixture<ClubServer>
{
    private const string Lounge = "club:lounge";

    private ServerFixture Server => club.Server;

    private Task<RawClient> ConnectAsync(string user) => Server.ConnectAsync(Tokens.Connection(user, Server.Time.GetUtcNow()));

    private static uint? ErrorCode(JsonElement reply)
        => reply.TryGetProperty("error", out var error) ? error.GetProperty("code").GetUInt32() : null;

    [Fact]
    public async Task A_non_member_is_refused_103_on_subscribe_and_publish()
    {
        await using var mallory = await ConnectAsync("mallory");
        Assert.Equal(103u, ErrorCode(await mallory.CommandAsync($"\"subscribe\":{{\"channel\":\"{Lounge}\"}}")));
        Assert.Equal(103u, ErrorCode(await mallory.CommandAsync($"\"publish\":{{\"channel\":\"{Lounge}\",\"data\":{{\"text\":\"let me in\"}}}}")));

        // Nothing reached the channel: no subscriber, no publication in its history.
        using var api = Server.Api();
        var history = await api.PostAsync("/api/history", new StringContent($"{{\"channel\":\"{Lounge}\",\"limit\":10}}"));
        var result = JsonDocument.Parse(await history.Content.ReadAsStringAsync()).RootElement.GetProperty("result");
        Assert.DoesNotContain(result.TryGetProperty("publications", out var pubs) ? pubs.EnumerateArray().ToList() : [],
            p => p.GetProperty("data").ToString().Contains("let me in", StringComparison.Ordinal));
        var presence = await api.PostAsync("/api/presence", new StringContent($"{{\"channel\":\"{Lounge}\"}}"));
        Assert.DoesNotContain("mallory", await presence.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_member_subscribes_with_the_attached_data_and_its_info_shows_in_presence_and_publications()
    {
        await using var alice = await ConnectAsync("alice");
        await using var bob = await ConnectAsync("bob");
        var subscribed = await alice.CommandAsync($"\"subscribe\":{{\"channel\":\"{Lounge}\"}}");
        Assert.Equal("{\"welcome\":\"lounge\"}", subscribed.GetProperty("subscribe").GetProperty("data").GetRawText());
        Assert.Null(ErrorCode(await bob.CommandAsync($"\"subscribe\":{{\"channel\":\"{Lounge}\"}}")));

        // The channel info the authorizer attached on subscribe is what presence shows.
        var presence = (await alice.CommandAsync($"\"presence\":{{\"channel\":\"{Lounge}\"}}")).GetProperty("presence").GetProperty("presence");
        var infos = presence.EnumerateObject().ToDictionary(p => p.Value.GetProperty("user").GetString()!, p => p.Value.GetProperty("chan_info").GetRawText());
        Assert.Equal("{\"role\":\"host\"}", infos["alice"]);
        Assert.Equal("{\"role\":\"member\"}", infos["bob"]);
        var stats = (await bob.CommandAsync($"\"presence_stats\":{{\"channel\":\"{Lounge}\"}}")).GetProperty("presence_stats");
        Assert.True(stats.GetProperty("num_users").GetUInt32() >= 2);

        // A publication carries the info the authorizer attached to the publish.
        alice.Drain();
        Assert.Null(ErrorCode(await bob.CommandAsync($"\"publish\":{{\"channel\":\"{Lounge}\",\"data\":{{\"text\":\"hi\"}}}}")));
        var pub = await NextPublicationAsync(alice);
        Assert.Equal("{\"text\":\"hi\"}", pub.GetProperty("data").GetRawText());
        Assert.Equal("bob", pub.GetProperty("info").GetProperty("user").GetString());
        Assert.Equal("{\"checked\":\"bob\"}", pub.GetProperty("info").GetProperty("chan_info").GetRawText());

        var history = (await alice.CommandAsync($"\"history\":{{\"channel\":\"{Lounge}\",\"limit\":10}}")).GetProperty("history");
        Assert.Contains(history.GetProperty("publications").EnumerateArray(), p => p.GetProperty("data").GetRawText() == "{\"text\":\"hi\"}");
    }

    [Fact]
    public async Task An_authorizer_may_replace_the_published_data()
    {
        await using var alice = await ConnectAsync("alice");
        await using var bob = await ConnectAsync("bob");
        Assert.Null(ErrorCode(await alice.CommandAsync($"\"subscribe\":{{\"channel\":\"{Lounge}\"}}")));
        alice.Drain();
        Assert.Null(ErrorCode(await bob.CommandAsync($"\"publish\":{{\"channel\":\"{Lounge}\",\"data\":{{\"secret\":\"hunter2\"}}}}")));
        var pub = await NextPublicationAsync(alice);
        Assert.Equal("{\"text\":\"[redacted]\"}", pub.GetProperty("data").GetRawText());
    }

    [Fact]
    public async Task A_non_member_is_refused_presence_presence_stats_and_history()
    {
        await using var mallory = await ConnectAsync("mallory");
        Assert.Equal(103u, ErrorCode(await mallory.CommandAsync($"\"presence\":{{\"channel\":\"{Lounge}\"}}")));
        Assert.Equal(103u, ErrorCode(await mallory.CommandAsync($"\"presence_stats\":{{\"channel\":\"{Lounge}\"}}")));
        Assert.Equal(103u, ErrorCode(await mallory.CommandAsync($"\"history\":{{\"channel\":\"{Lounge}\",\"limit\":10}}")));
    }

    [Fact]
    public async Task An_authorizer_refuses_an_rpc_with_its_own_code_and_sees_who_called_what()
    {
        await using var mallory = await ConnectAsync("mallory");
        var refused = await mallory.CommandAsync("\"rpc\":{\"method\":\"echo\",\"data\":{\"x\":1}}");
        Assert.Equal(ClubAuthorizer.Banned, ErrorCode(refused));
        Assert.Equal("banned", refused.GetProperty("error").GetProperty("message").GetString());

        await using var alice = await ConnectAsync("alice");
        var echoed = await alice.CommandAsync("\"rpc\":{\"method\":\"echo\",\"data\":{\"x\":2}}");
        Assert.Equal("alice", echoed.GetProperty("rpc").GetProperty("data").GetProperty("user").GetString());

        var seen = Server.Authorizer.Seen.Where(r => r.Operation == ChannelOperation.Rpc).ToList();
        Assert.Contains(seen, r => r.Client.User == "mallory" && r.Target == "echo" && r.Data.ToString() == "{\"x\":1}" && r.Client.Transport == "websocket");
        Assert.Contains(seen, r => r.Client.User == "alice" && r.Data.ToString() == "{\"x\":2}");
    }

    [Fact]
    public async Task The_authorizer_is_asked_only_after_the_namespace_rules_allow()
    {
        // Anonymous clients are refused by the namespace (no AllowSubscribeForAnonymous): the app is not asked.
        await using var anonymous = await Server.ConnectAsync();
        Assert.Equal(103u, ErrorCode(await anonymous.CommandAsync($"\"subscribe\":{{\"channel\":\"{Lounge}\"}}")));
        Assert.Equal(102u, ErrorCode(await anonymous.CommandAsync("\"subscribe\":{\"channel\":\"nowhere:lounge\"}")));
        Assert.DoesNotContain(Server.Authorizer.Seen, r => r.Client.User.Length == 0 && r.Operation == ChannelOperation.Subscribe);
    }

    private static async Task<JsonElement> NextPublicationAsync(RawClient client)
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
