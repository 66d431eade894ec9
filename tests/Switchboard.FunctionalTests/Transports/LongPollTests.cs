using System.Net;
using System.Text;
using Microsoft.Extensions.Time.Testing;

namespace Switchboard.FunctionalTests.Transports;

/// <summary>Servers with the namespaces the long-poll tests use: <c>lp</c> (a long stream), <c>tiny</c> (3 publications of history).</summary>
internal static class LongPollServers
{
    public static readonly string[] Arguments =
    [
        "--Switchboard:Namespaces:lp:HistorySize=5000",
        "--Switchboard:Namespaces:lp:HistoryTtl=01:00:00",
        "--Switchboard:Namespaces:lp:AllowSubscribeForClient=true",
        "--Switchboard:Namespaces:lp:AllowSubscribeForAnonymous=true",
        "--Switchboard:Namespaces:tiny:HistorySize=3",
        "--Switchboard:Namespaces:tiny:HistoryTtl=01:00:00",
        "--Switchboard:Namespaces:tiny:AllowSubscribeForClient=true",
        "--Switchboard:Namespaces:tiny:AllowSubscribeForAnonymous=true",
        "--Switchboard:Namespaces:priv:HistorySize=10",
        "--Switchboard:Namespaces:priv:HistoryTtl=01:00:00",
        "--Switchboard:RateLimits:LongPoll:PermitLimit=0",
        "--Switchboard:LongPoll:MaxChannels=4",
        "--Switchboard:LongPoll:MaxBodyBytes=2048",
        "--Switchboard:LongPoll:MaxPublications=100",
    ];

    public static Task<ServerFixture> StartAsync(params string[] extra) => ServerFixture.StartAsync([.. Arguments, .. extra]);

    public static async Task PublishAsync(ServerFixture server, string channel, string data)
    {
        using var api = server.Api();
        var result = await Api.PostAsync(api, "publish", $"{{\"channel\":\"{channel}\",\"data\":{data}}}");
        Assert.True(result.TryGetProperty("result", out _), result.ToString());
    }

    /// <summary>
    /// Moves fake clocks on until <paramref name="done"/> fires, so polls with short timeouts time
    /// out again and again (the clocks drive the timeouts; nothing is asserted about time).
    /// </summary>
    public static async Task TickAsync(CancellationToken done, params FakeTimeProvider[] clocks)
    {
        while (!done.IsCancellationRequested)
        {
            foreach (var clock in clocks)
            {
                clock.Advance(TimeSpan.FromMilliseconds(5));
            }
            await Task.Yield();
        }
    }
}

public sealed class LongPollTests
{
    private static string Channel(string ns) => $"{ns}:{Guid.NewGuid():N}";

    [Fact]
    public async Task Every_publication_of_a_long_stream_arrives_once_and_in_order_across_forced_poll_timeouts()
    {
        await using var server = await LongPollServers.StartAsync();
        var channel = Channel("lp");
        const int total = 2000;
        var poller = new LongPollClient(channel);
        await poller.PollAsync(server.BaseAddress, 0); // the starting point: offset 0

        using var done = new CancellationTokenSource();
        var ticking = LongPollServers.TickAsync(done.Token, server.Time);
        var publishing = Task.Run(async () =>
        {
            for (var i = 1; i <= total; i++)
            {
                await LongPollServers.PublishAsync(server, channel, $"{{\"n\":{i}}}");
            }
        });
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        var polls = 0;
        while (poller.Count < total && DateTime.UtcNow < deadline)
        {
            // Every third poll may not wait at all; the others wait at most 20 ms of the ticking clock.
            await poller.PollAsync(server.BaseAddress, polls++ % 3 == 0 ? 0 : 20);
        }
        await publishing;
        await done.CancelAsync();
        await ticking;

        var received = poller.Received[channel];
        Assert.Equal(total, received.Count);
        Assert.Equal(Enumerable.Range(1, total).Select(i => (ulong)i), received.Select(r => r.Offset));
        Assert.Equal(Enumerable.Range(1, total).Select(i => $"{{\"n\":{i}}}"), received.Select(r => r.Data));
        Assert.True(poller.EmptyPolls > 0, "no poll came back empty: the timeouts were not exercised");
        Assert.Equal(0, server.Node.Hub.Waiters.PollCount);
        Assert.Equal(0, server.Node.Hub.Waiters.ChannelCount);
        Assert.Empty(server.Errors.Entries);
    }

    [Fact]
    public async Task A_waiting_poll_is_woken_by_a_publication_without_waiting_for_its_timeout()
    {
        await using var server = await LongPollServers.StartAsync();
        var channel = Channel("lp");
        var poller = new LongPollClient(channel);
        await poller.PollAsync(server.BaseAddress, 0);
        var startedAt = server.Time.GetUtcNow();

        var poll = poller.PollAsync(server.BaseAddress, 25_000);
        await Poll.UntilAsync(() => Task.FromResult(server.Node.Hub.Waiters.PollCount == 1 && server.Node.Hub.Waiters.Has(channel)), "the poll waits");
        Assert.False(poll.IsCompleted);
        await LongPollServers.PublishAsync(server, channel, "{\"hello\":1}");
        await poll.WaitAsync(TimeSpan.FromSeconds(20));

        Assert.Equal([(1UL, "{\"hello\":1}")], poller.Received[channel]);
        Assert.Equal(startedAt, server.Time.GetUtcNow()); // the clock never moved: the publication woke it
        await Poll.UntilAsync(() => Task.FromResult(server.Node.Hub.Waiters.ChannelCount == 0), "the waiter is gone");
    }

    [Fact]
    public async Task A_waiting_poll_skips_publications_kept_out_of_history_and_rereads_after_a_broker_interruption()
    {
        await using var server = await LongPollServers.StartAsync();
        var channel = Channel("lp");
        var poller = new LongPollClient(channel);
        await poller.PollAsync(server.BaseAddress, 0);
        var poll = poller.PollAsync(server.BaseAddress, 25_000);
        await Poll.UntilAsync(() => Task.FromResult(server.Node.Hub.Waiters.PollCount == 1 && server.Node.Hub.Waiters.Has(channel)), "the poll waits");

        // Not in the stream, so not for long polls: the poll wakes, finds nothing new and waits on.
        using (var api = server.Api())
        {
            await Api.PostAsync(api, "publish", $"{{\"channel\":\"{channel}\",\"data\":{{\"skipped\":true}},\"skip_history\":true}}");
        }
        // The broker says it may have lost publications: the poll reads the stream again, and waits on.
        server.Node.OnChannelsInterrupted([channel]);
        await LongPollServers.PublishAsync(server, channel, "{\"n\":1}");
        await poll.WaitAsync(TimeSpan.FromSeconds(20));
        Assert.Equal([(1UL, "{\"n\":1}")], poller.Received[channel]);
    }

    [Fact]
    public async Task A_waiting_poll_answers_with_its_positions_unchanged_once_its_timeout_passes()
    {
        await using var server = await LongPollServers.StartAsync();
        var channel = Channel("lp");
        await LongPollServers.PublishAsync(server, channel, "{\"n\":1}");
        var body = $"{{\"channels\":{{\"{channel}\":{{}}}}}}";
        var (status, first) = await LongPollClient.SendAsync(server.BaseAddress, body);
        Assert.Equal(HttpStatusCode.OK, status);
        var epoch = first.GetProperty("channels").GetProperty(channel).GetProperty("epoch").GetString();
        Assert.Equal(1UL, first.GetProperty("channels").GetProperty(channel).GetProperty("offset").GetUInt64());
        Assert.False(first.GetProperty("channels").GetProperty(channel).TryGetProperty("publications", out _));

        var poll = LongPollClient.SendAsync(server.BaseAddress, $"{{\"channels\":{{\"{channel}\":{{\"epoch\":\"{epoch}\",\"offset\":1}}}},\"timeout_ms\":5000}}");
        await Poll.UntilAsync(() => Task.FromResult(server.Node.Hub.Waiters.PollCount == 1 && server.Node.Hub.Waiters.Has(channel)), "the poll waits");
        server.Time.Advance(TimeSpan.FromMilliseconds(4999));
        Assert.False(poll.IsCompleted);
        server.Time.Advance(TimeSpan.FromMilliseconds(1));
        var (timeoutStatus, answer) = await poll.WaitAsync(TimeSpan.FromSeconds(20));

        Assert.Equal(HttpStatusCode.OK, timeoutStatus);
        var c = answer.GetProperty("channels").GetProperty(channel);
        Assert.Equal(epoch, c.GetProperty("epoch").GetString());
        Assert.Equal(1UL, c.GetProperty("offset").GetUInt64());
        Assert.True(c.GetProperty("recovered").GetBoolean());
        Assert.False(c.TryGetProperty("publications", out _));
        Assert.Equal(0, server.Node.Hub.Waiters.PollCount);
    }

    [Fact]
    public async Task A_position_of_another_epoch_past_the_top_or_trimmed_from_history_is_answered_recovered_false()
    {
        await using var server = await LongPollServers.StartAsync();
        var channel = Channel("tiny");
        for (var i = 1; i <= 6; i++)
        {
            await LongPollServers.PublishAsync(server, channel, $"{{\"n\":{i}}}");
        }
        var (_, start) = await LongPollClient.SendAsync(server.BaseAddress, $"{{\"channels\":{{\"{channel}\":{{}}}}}}");
        var epoch = start.GetProperty("channels").GetProperty(channel).GetProperty("epoch").GetString();

        foreach (var position in new[] { "{\"epoch\":\"not-this-one\",\"offset\":5}", $"{{\"epoch\":\"{epoch}\",\"offset\":1}}", $"{{\"epoch\":\"{epoch}\",\"offset\":9}}" })
        {
            var (status, answer) = await LongPollClient.SendAsync(server.BaseAddress, $"{{\"channels\":{{\"{channel}\":{position}}},\"timeout_ms\":0}}");
            Assert.Equal(HttpStatusCode.OK, status);
            var c = answer.GetProperty("channels").GetProperty(channel);
            Assert.False(c.GetProperty("recovered").GetBoolean(), position);
            Assert.Equal(epoch, c.GetProperty("epoch").GetString());
            Assert.Equal(6UL, c.GetProperty("offset").GetUInt64());
            Assert.False(c.TryGetProperty("publications", out _));
        }

        // Still within history: the rest, contiguous.
        var (okStatus, ok) = await LongPollClient.SendAsync(server.BaseAddress, $"{{\"channels\":{{\"{channel}\":{{\"epoch\":\"{epoch}\",\"offset\":4}}}}}}");
        Assert.Equal(HttpStatusCode.OK, okStatus);
        var pubs = ok.GetProperty("channels").GetProperty(channel).GetProperty("publications").EnumerateArray().Select(p => p.GetProperty("offset").GetUInt64());
        Assert.Equal([5UL, 6UL], pubs);
    }

    [Fact]
    public async Task More_publications_than_one_answer_holds_come_in_order_over_several_polls()
    {
        await using var server = await LongPollServers.StartAsync();
        var channel = Channel("lp");
        var poller = new LongPollClient(channel);
        await poller.PollAsync(server.BaseAddress, 0);
        for (var i = 1; i <= 250; i++)
        {
            await LongPollServers.PublishAsync(server, channel, $"{{\"n\":{i}}}");
        }
        await poller.PollAsync(server.BaseAddress, 0);
        Assert.Equal(100, poller.Count); // LongPoll:MaxPublications
        await poller.PollAsync(server.BaseAddress, 1000);
        await poller.PollAsync(server.BaseAddress, 1000);
        Assert.Equal(Enumerable.Range(1, 250).Select(i => (ulong)i), poller.Received[channel].Select(r => r.Offset));
    }

    [Fact]
    public async Task An_answer_carries_about_max_answer_bytes_and_the_next_polls_the_rest()
    {
        await using var server = await LongPollServers.StartAsync("--Switchboard:LongPoll:MaxAnswerBytes=2048");
        var channel = Channel("lp");
        var poller = new LongPollClient(channel);
        await poller.PollAsync(server.BaseAddress, 0);
        var payload = new string('x', 500);
        for (var i = 1; i <= 10; i++)
        {
            await LongPollServers.PublishAsync(server, channel, $"{{\"n\":{i},\"pad\":\"{payload}\"}}");
        }
        await poller.PollAsync(server.BaseAddress, 0);
        Assert.Equal(3, poller.Count); // 3 × (500 bytes and the fields around them) fit in 2048
        while (poller.Count < 10 && poller.Polls < 20)
        {
            await poller.PollAsync(server.BaseAddress, 0);
        }
        Assert.Equal(Enumerable.Range(1, 10).Select(i => (ulong)i), poller.Received[channel].Select(r => r.Offset));
    }

    [Fact]
    public async Task Hostile_or_malformed_polls_are_refused_with_a_status_a_code_and_a_message()
    {
        await using var server = await LongPollServers.StartAsync();
        var lp = Channel("lp");
        async Task Expect(HttpStatusCode status, uint code, string body, string? messagePart = null)
        {
            var (actual, answer) = await LongPollClient.SendAsync(server.BaseAddress, body);
            Assert.True(actual == status, $"{body}: {actual} {answer}");
            var error = answer.GetProperty("error");
            Assert.Equal(code, error.GetProperty("code").GetUInt32());
            var message = error.GetProperty("message").GetString()!;
            Assert.NotEmpty(message);
            if (messagePart is not null)
            {
                Assert.Contains(messagePart, message, StringComparison.Ordinal);
            }
        }

        await Expect(HttpStatusCode.BadRequest, 107, "not json");
        await Expect(HttpStatusCode.BadRequest, 107, "[1,2]");
        await Expect(HttpStatusCode.BadRequest, 107, "");
        await Expect(HttpStatusCode.BadRequest, 107, "{}", "channels");
        await Expect(HttpStatusCode.BadRequest, 107, "{\"channels\":{}}", "channels");
        await Expect(HttpStatusCode.BadRequest, 107, $"{{\"channels\":{{\"{lp}\":{{}}}},\"timeout\":5}}", "timeout");
        await Expect(HttpStatusCode.BadRequest, 107, $"{{\"channels\":{{\"{lp}\":{{}}}},\"timeout_ms\":-1}}", "timeout_ms");
        await Expect(HttpStatusCode.BadRequest, 107, $"{{\"channels\":{{\"{lp}\":{{}}}},\"timeout_ms\":99999999999}}", "timeout_ms");
        await Expect(HttpStatusCode.BadRequest, 107, $"{{\"channels\":{{\"{lp}\":{{\"epoch\":\"e\",\"offset\":-3}}}}}}", "offset");
        await Expect(HttpStatusCode.BadRequest, 107, $"{{\"channels\":{{\"{lp}\":{{\"offset\":3}}}}}}", "epoch");
        await Expect(HttpStatusCode.BadRequest, 107, $"{{\"channels\":{{\"{lp}\":{{}},\"{lp}\":{{}}}}}}");
        await Expect(HttpStatusCode.BadRequest, 107, "{\"channels\":{\"\":{}}}");
        await Expect(HttpStatusCode.BadRequest, 106, "{\"channels\":{\"lp:a\":{},\"lp:b\":{},\"lp:c\":{},\"lp:d\":{},\"lp:e\":{}}}", "at most 4");
        await Expect(HttpStatusCode.BadRequest, 102, "{\"channels\":{\"nowhere:x\":{}}}");
        await Expect(HttpStatusCode.BadRequest, 108, "{\"channels\":{\"plain:x\":{}}}", "history");
        await Expect(HttpStatusCode.RequestEntityTooLarge, 106, $"{{\"channels\":{{\"{lp}\":{{}}}},\"token\":\"{new string('x', 3000)}\"}}");

        // None of it harmed the server: a good poll still works.
        var (ok, _) = await LongPollClient.SendAsync(server.BaseAddress, $"{{\"channels\":{{\"{lp}\":{{}}}}}}");
        Assert.Equal(HttpStatusCode.OK, ok);
        Assert.Empty(server.Errors.Entries);
    }

    [Fact]
    public async Task Tokens_are_checked_on_every_poll_and_private_channels_need_a_subscription_token()
    {
        await using var server = await LongPollServers.StartAsync("--Switchboard:Client:AllowAnonymousConnectWithoutToken=false");
        var now = server.Time.GetUtcNow();
        var lp = Channel("lp");
        async Task<(HttpStatusCode, uint?)> PollAsync(string? token, string channels)
        {
            var tokenField = token is null ? "" : $"\"token\":\"{token}\",";
            var (status, answer) = await LongPollClient.SendAsync(server.BaseAddress, $"{{{tokenField}\"channels\":{channels},\"timeout_ms\":0}}");
            return (status, answer.TryGetProperty("error", out var e) ? e.GetProperty("code").GetUInt32() : null);
        }

        Assert.Equal((HttpStatusCode.Unauthorized, 3500u), await PollAsync(null, $"{{\"{lp}\":{{}}}}"));
        Assert.Equal((HttpStatusCode.Unauthorized, 3500u), await PollAsync("garbage", $"{{\"{lp}\":{{}}}}"));
        Assert.Equal((HttpStatusCode.Unauthorized, 3500u), await PollAsync(Tokens.Jwt($"{{\"sub\":\"ann\",\"exp\":{now.ToUnixTimeSeconds() + 60}}}", "another-secret-another-secret-0123456789"), $"{{\"{lp}\":{{}}}}"));
        var ann = Tokens.Connection("ann", now, ttlSeconds: 60);
        Assert.Equal((HttpStatusCode.OK, null), await PollAsync(ann, $"{{\"{lp}\":{{}}}}"));

        // A private channel: refused without a subscription token, or with one for another user or channel.
        var priv = "$priv:" + Guid.NewGuid().ToString("N");
        Assert.Equal((HttpStatusCode.Forbidden, 103u), await PollAsync(ann, $"{{\"{priv}\":{{}}}}"));
        Assert.Equal((HttpStatusCode.Unauthorized, 3500u), await PollAsync(ann, $"{{\"{priv}\":{{\"token\":\"{Tokens.Subscription("bob", priv, now)}\"}}}}"));
        Assert.Equal((HttpStatusCode.Unauthorized, 3500u), await PollAsync(ann, $"{{\"{priv}\":{{\"token\":\"{Tokens.Subscription("ann", priv + "x", now)}\"}}}}"));
        Assert.Equal((HttpStatusCode.OK, null), await PollAsync(ann, $"{{\"{priv}\":{{\"token\":\"{Tokens.Subscription("ann", priv, now)}\"}}}}"));

        // The same token a minute later has expired: the next poll says so (109: get a new one).
        server.Time.Advance(TimeSpan.FromSeconds(61));
        Assert.Equal((HttpStatusCode.Unauthorized, 109u), await PollAsync(ann, $"{{\"{lp}\":{{}}}}"));
        Assert.Equal((HttpStatusCode.Unauthorized, 109u), await PollAsync(Tokens.Connection("ann", server.Time.GetUtcNow()), $"{{\"{priv}\":{{\"token\":\"{Tokens.Subscription("ann", priv, now, ttlSeconds: 60)}\"}}}}"));
    }

    [Fact]
    public async Task A_revoked_token_is_refused_on_the_next_poll()
    {
        await using var server = await LongPollServers.StartAsync("--Switchboard:Client:AllowAnonymousConnectWithoutToken=false");
        var now = server.Time.GetUtcNow();
        var exp = now.ToUnixTimeSeconds() + 3600;
        var token = Tokens.Jwt($"{{\"sub\":\"amy\",\"exp\":{exp},\"jti\":\"lp-amy-1\"}}");
        var body = $"{{\"token\":\"{token}\",\"channels\":{{\"lp:revoked\":{{}}}}}}";
        Assert.Equal(HttpStatusCode.OK, (await LongPollClient.SendAsync(server.BaseAddress, body)).Status);

        using (var api = server.Api())
        {
            var result = await Api.PostAsync(api, "revoke_token", $"{{\"jti\":\"lp-amy-1\",\"expire_at\":{exp}}}");
            Assert.False(result.TryGetProperty("error", out _), result.ToString());
        }
        var (status, answer) = await LongPollClient.SendAsync(server.BaseAddress, body);
        Assert.Equal(HttpStatusCode.Unauthorized, status);
        Assert.Equal(3500u, answer.GetProperty("error").GetProperty("code").GetUInt32());
    }

    [Fact]
    public async Task A_poll_waits_no_longer_than_its_token_lives()
    {
        await using var server = await LongPollServers.StartAsync("--Switchboard:Client:AllowAnonymousConnectWithoutToken=false");
        var channel = Channel("lp");
        var token = Tokens.Connection("ann", server.Time.GetUtcNow(), ttlSeconds: 10);
        var (_, start) = await LongPollClient.SendAsync(server.BaseAddress, $"{{\"token\":\"{token}\",\"channels\":{{\"{channel}\":{{}}}}}}");
        var epoch = start.GetProperty("channels").GetProperty(channel).GetProperty("epoch").GetString();
        var body = $"{{\"token\":\"{token}\",\"channels\":{{\"{channel}\":{{\"epoch\":\"{epoch}\",\"offset\":0}}}},\"timeout_ms\":25000}}";

        var poll = LongPollClient.SendAsync(server.BaseAddress, body);
        await Poll.UntilAsync(() => Task.FromResult(server.Node.Hub.Waiters.PollCount == 1 && server.Node.Hub.Waiters.Has(channel)), "the poll waits");
        server.Time.Advance(TimeSpan.FromSeconds(10));
        var (status, _) = await poll.WaitAsync(TimeSpan.FromSeconds(20)); // 15 s before its own timeout
        Assert.Equal(HttpStatusCode.OK, status);
        var (expired, answer) = await LongPollClient.SendAsync(server.BaseAddress, body);
        Assert.Equal(HttpStatusCode.Unauthorized, expired);
        Assert.Equal(109u, answer.GetProperty("error").GetProperty("code").GetUInt32());
    }

    [Fact]
    public async Task Channel_rules_and_the_apps_authorizer_apply_to_long_polls_as_to_subscribes()
    {
        await using var server = await LongPollServers.StartAsync(
            "--Switchboard:Namespaces:club:HistorySize=10",
            "--Switchboard:Namespaces:club:HistoryTtl=00:10:00",
            "--Switchboard:Namespaces:club:AllowSubscribeForClient=true");
        var now = server.Time.GetUtcNow();
        async Task<HttpStatusCode> PollAsync(string user, string channel)
        {
            var (status, _) = await LongPollClient.SendAsync(server.BaseAddress, $"{{\"token\":\"{Tokens.Connection(user, now)}\",\"channels\":{{\"{channel}\":{{}}}}}}");
            return status;
        }

        Assert.Equal(HttpStatusCode.OK, await PollAsync("alice", "club:lounge"));
        Assert.Equal(HttpStatusCode.Forbidden, await PollAsync("mallory", "club:lounge"));
        Assert.Contains(server.Authorizer.Seen, r => r.Client.Transport == "long_poll" && r.Target == "club:lounge" && r.Client.User == "alice");
        // An anonymous poll of a namespace that does not allow anonymous subscribers.
        var (anonymous, answer) = await LongPollClient.SendAsync(server.BaseAddress, "{\"channels\":{\"club:lounge\":{}}}");
        Assert.Equal(HttpStatusCode.Forbidden, anonymous);
        Assert.Equal(103u, answer.GetProperty("error").GetProperty("code").GetUInt32());
    }

    [Fact]
    public async Task An_aborted_poll_leaves_no_waiter_behind()
    {
        await using var server = await LongPollServers.StartAsync();
        var channel = Channel("lp");
        var (_, start) = await LongPollClient.SendAsync(server.BaseAddress, $"{{\"channels\":{{\"{channel}\":{{}}}}}}");
        var epoch = start.GetProperty("channels").GetProperty(channel).GetProperty("epoch").GetString();
        using var abort = new CancellationTokenSource();
        var poll = LongPollClient.SendAsync(server.BaseAddress, $"{{\"channels\":{{\"{channel}\":{{\"epoch\":\"{epoch}\",\"offset\":0}}}}}}", abort.Token);
        await Poll.UntilAsync(() => Task.FromResult(server.Node.Hub.Waiters.PollCount == 1 && server.Node.Hub.Waiters.Has(channel)), "the poll waits");

        await abort.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => poll);
        await Poll.UntilAsync(() => Task.FromResult(server.Node.Hub.Waiters.PollCount == 0 && server.Node.Hub.Waiters.ChannelCount == 0), "the waiter is gone");
        Assert.Empty(server.Errors.Entries);
    }

    [Fact]
    public async Task A_drain_answers_waiting_polls_at_once_and_refuses_new_ones_with_503()
    {
        var server = await LongPollServers.StartAsync("--Switchboard:Drain:Window=00:00:00");
        var channel = Channel("lp");
        var (_, start) = await LongPollClient.SendAsync(server.BaseAddress, $"{{\"channels\":{{\"{channel}\":{{}}}}}}");
        var epoch = start.GetProperty("channels").GetProperty(channel).GetProperty("epoch").GetString();
        var body = $"{{\"channels\":{{\"{channel}\":{{\"epoch\":\"{epoch}\",\"offset\":0}}}}}}";
        var poll = LongPollClient.SendAsync(server.BaseAddress, body);
        await Poll.UntilAsync(() => Task.FromResult(server.Node.Hub.Waiters.PollCount == 1 && server.Node.Hub.Waiters.Has(channel)), "the poll waits");

        var stopping = server.App.StopAsync();
        await server.Node.DrainStarted.WaitAsync(TimeSpan.FromSeconds(10));
        var (status, answer) = await poll.WaitAsync(TimeSpan.FromSeconds(10)); // the clock never moved
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(0UL, answer.GetProperty("channels").GetProperty(channel).GetProperty("offset").GetUInt64());

        await stopping.WaitAsync(TimeSpan.FromSeconds(20));
        await server.DisposeAsync();
    }

    [Fact]
    public async Task Waiting_polls_count_against_the_nodes_connection_cap()
    {
        await using var server = await LongPollServers.StartAsync("--Switchboard:Client:MaxConnections=1");
        var channel = Channel("lp");
        var poller = new LongPollClient(channel);
        await poller.PollAsync(server.BaseAddress, 0);
        var poll = poller.PollAsync(server.BaseAddress, 25_000);
        await Poll.UntilAsync(() => Task.FromResult(server.Node.Hub.Waiters.PollCount == 1 && server.Node.Hub.Waiters.Has(channel)), "the poll waits");

        var (status, answer) = await LongPollClient.SendAsync(server.BaseAddress, $"{{\"channels\":{{\"{channel}\":{{}}}}}}");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, status);
        Assert.Equal(106u, answer.GetProperty("error").GetProperty("code").GetUInt32());
        Assert.True(answer.GetProperty("error").GetProperty("temporary").GetBoolean());

        await LongPollServers.PublishAsync(server, channel, "{\"n\":1}");
        await poll.WaitAsync(TimeSpan.FromSeconds(20));
        Assert.Equal(HttpStatusCode.OK, (await LongPollClient.SendAsync(server.BaseAddress, $"{{\"channels\":{{\"{channel}\":{{}}}}}}")).Status);
    }

    [Fact]
    public async Task New_polls_during_a_drain_get_503_with_retry_after()
    {
        await using var server = await LongPollServers.StartAsync();
        var node = server.Node;
        var draining = node.DrainAsync(CancellationToken.None);
        await node.DrainStarted.WaitAsync(TimeSpan.FromSeconds(10));
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(server.BaseAddress, "/connection/long_poll"))
        {
            Content = new StringContent("{\"channels\":{\"lp:x\":{}}}", Encoding.UTF8, "application/json"),
        };
        using var response = await LongPollClient.SendRawAsync(request);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.NotNull(response.Headers.RetryAfter);
        Assert.Contains("\"code\":3001", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        await draining.WaitAsync(TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task Only_allowed_browser_origins_may_poll_and_they_get_cors_headers()
    {
        await using var server = await LongPollServers.StartAsync("--Switchboard:Client:AllowedOrigins:0=https://app.example.com");
        var body = "{\"channels\":{\"lp:cors\":{}}}";
        var (refused, error) = await LongPollClient.SendAsync(server.BaseAddress, body, origin: "https://evil.example.com");
        Assert.Equal(HttpStatusCode.Forbidden, refused);
        Assert.Equal(103u, error.GetProperty("error").GetProperty("code").GetUInt32());

        using var post = new HttpRequestMessage(HttpMethod.Post, new Uri(server.BaseAddress, "/connection/long_poll"))
        {
            Content = new StringContent(body, Encoding.UTF8, "application/json"),
        };
        post.Headers.Add("Origin", "https://app.example.com");
        using var allowed = await LongPollClient.SendRawAsync(post);
        Assert.Equal(HttpStatusCode.OK, allowed.StatusCode);
        Assert.Equal("https://app.example.com", allowed.Headers.GetValues("Access-Control-Allow-Origin").Single());

        using var preflight = new HttpRequestMessage(HttpMethod.Options, new Uri(server.BaseAddress, "/connection/long_poll"));
        preflight.Headers.Add("Origin", "https://app.example.com");
        preflight.Headers.Add("Access-Control-Request-Method", "POST");
        using var answer = await LongPollClient.SendRawAsync(preflight);
        Assert.Equal(HttpStatusCode.NoContent, answer.StatusCode);
        Assert.Equal("https://app.example.com", answer.Headers.GetValues("Access-Control-Allow-Origin").Single());
        Assert.Contains("POST", answer.Headers.GetValues("Access-Control-Allow-Methods").Single(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--Switchboard:LongPoll:MaxChannels=0", "Switchboard:LongPoll:MaxChannels")]
    [InlineData("--Switchboard:LongPoll:MaxTimeout=-00:00:01", "Switchboard:LongPoll:MaxTimeout")]
    [InlineData("--Switchboard:LongPoll:MaxBodyBytes=10", "Switchboard:LongPoll:MaxBodyBytes")]
    [InlineData("--Switchboard:LongPoll:MaxPublications=0", "Switchboard:LongPoll:MaxPublications")]
    [InlineData("--Switchboard:LongPoll:MaxAnswerBytes=0", "Switchboard:LongPoll:MaxAnswerBytes")]
    [InlineData("--Switchboard:LongPoll:MaxTimout=00:00:10", "Switchboard:LongPoll:MaxTimout")]
    [InlineData("--Switchboard:RateLimits:LongPoll:PermitLimit=-1", "Switchboard:RateLimits:LongPoll:PermitLimit")]
    public void Bad_long_poll_settings_stop_the_server_at_start_naming_the_key(string argument, string key)
    {
        var e = Assert.Throws<Microsoft.Extensions.Options.OptionsValidationException>(
            () => Switchboard.Server.Hosting.SwitchboardApp.Build([.. InProcessServer.Arguments, argument]));
        Assert.Contains(key, string.Join("\n", e.Failures), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Polls_past_the_rate_limit_of_an_address_get_429()
    {
        await using var server = await LongPollServers.StartAsync("--Switchboard:RateLimits:LongPoll:PermitLimit=3", "--Switchboard:RateLimits:LongPoll:Window=01:00:00");
        var body = "{\"channels\":{\"lp:rate\":{}}}";
        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(HttpStatusCode.OK, (await LongPollClient.SendAsync(server.BaseAddress, body)).Status);
        }
        var (status, answer) = await LongPollClient.SendAsync(server.BaseAddress, body);
        Assert.Equal(HttpStatusCode.TooManyRequests, status);
        Assert.Equal(111u, answer.GetProperty("error").GetProperty("code").GetUInt32());
    }
}
