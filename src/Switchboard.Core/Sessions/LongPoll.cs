using Microsoft.Extensions.Logging;
using Switchboard.Auth;
using Switchboard.Channels;
using Switchboard.Engine;
using Switchboard.Protocol;

namespace Switchboard.Sessions;

/// <summary>
/// The long polling transport's logic (docs/long-polling.md), stateless between polls: the
/// client's positions come with each poll and the publications come from the channel streams,
/// so any node answers any poll and nothing is lost between polls. A poll that finds nothing
/// waits for a publication in its channels — registered before the streams are read, so one
/// that lands between the read and the wait still wakes it — or its timeout.
/// </summary>
internal sealed partial class LongPoll(Node node)
{
    /// <summary>The transport name in metrics, logs and <see cref="ClientContext.Transport"/>.</summary>
    public const string TransportName = "long_poll";

    /// <summary>
    /// Answers one poll. Throws <see cref="ProtocolException"/> for a refused poll (the code says
    /// which, docs/long-polling.md maps it to an HTTP status), <see cref="OperationCanceledException"/>
    /// when <paramref name="aborted"/> fires. <paramref name="stop"/> completing (a drain) ends a
    /// waiting poll with what it has.
    /// </summary>
    public async Task<List<(string Channel, LongPollChannelAnswer Answer)>> PollAsync(LongPollRequest request, Task stop, CancellationToken aborted)
        => Trim(await PollCoreAsync(request, stop, aborted).ConfigureAwait(false), node.Options.LongPoll.MaxAnswerBytes);

    /// <summary>
    /// Keeps an answer within about <paramref name="maxBytes"/> of publications (counted by
    /// payload and info size), always at least one publication: a channel cut short answers the
    /// position of its last publication kept, and the next poll (answered at once) has the rest.
    /// </summary>
    internal static List<(string Channel, LongPollChannelAnswer Answer)> Trim(List<(string Channel, LongPollChannelAnswer Answer)> answers, int maxBytes)
    {
        long bytes = 0;
        var kept = 0;
        for (var i = 0; i < answers.Count; i++)
        {
            var (channel, answer) = answers[i];
            var publications = answer.Publications;
            var count = 0;
            while (count < publications.Count)
            {
                var size = Size(publications[count]);
                if (kept > 0 && bytes + size > maxBytes)
                {
                    break;
                }
                bytes += size;
                kept++;
                count++;
            }
            if (count < publications.Count)
            {
                answers[i] = (channel, count == 0
                    ? new LongPollChannelAnswer { Epoch = answer.Epoch, Offset = publications[0].Offset - 1, Recovered = true }
                    : new LongPollChannelAnswer { Epoch = answer.Epoch, Offset = publications[count - 1].Offset, Recovered = true, Publications = [.. publications.Take(count)] });
            }
        }
        return answers;
    }

    // What a publication adds to an answer, near enough: its JSON values plus the fields around them.
    private static long Size(Publication publication)
        => publication.Data.Utf8.Length + 64
           + (publication.Info is { } info ? info.User.Length + info.Client.Length + info.ConnInfo.Utf8.Length + info.ChanInfo.Utf8.Length + 48 : 0)
           + (publication.Tags?.Sum(t => t.Key.Length + t.Value.Length + 6) ?? 0);

    private async Task<List<(string Channel, LongPollChannelAnswer Answer)>> PollCoreAsync(LongPollRequest request, Task stop, CancellationToken aborted)
    {
        var options = node.Options.LongPoll;
        var timeout = CheckTimeout(request.TimeoutMs, options.MaxTimeout);
        if (request.Channels is not { Count: > 0 } requested)
        {
            throw ProtocolException.BadRequest("channels: at least one channel is required");
        }
        if (requested.Count > options.MaxChannels)
        {
            throw new ProtocolException(ErrorCodes.LimitExceeded, $"channels: at most {options.MaxChannels} per poll");
        }
        var (user, connInfo, expiresAt) = await ValidateConnectionAsync(request.Token, aborted).ConfigureAwait(false);
        var context = new ClientContext(Guid.NewGuid().ToString(), user, connInfo, TransportName);
        var channels = new List<PolledChannel>(requested.Count);
        foreach (var (name, position) in requested)
        {
            var channel = await AuthorizeAsync(name, position, context, aborted).ConfigureAwait(false);
            channels.Add(channel);
            expiresAt = Earliest(expiresAt, channel.TokenExpiresAt);
        }
        if (expiresAt is { } expiry)
        {
            // A poll never outlives its tokens: the next one is told they expired (109).
            var left = expiry - node.Time.GetUtcNow();
            timeout = left < timeout ? (left > TimeSpan.Zero ? left : TimeSpan.Zero) : timeout;
        }

        // A channel with no position is answered at once (its starting point); so is a poll that may not wait.
        var wait = timeout > TimeSpan.Zero && channels.TrueForAll(c => c.Since is not null);
        if (!wait)
        {
            return await ReadAllAsync(channels, aborted).ConfigureAwait(false);
        }

        // The timer starts first, the waiter is registered next, the streams are read last: a
        // publication after the read signals the waiter; one before it is in what was read.
        using var timeoutCts = CancellationTokenSource.CreateLinkedTokenSource(aborted);
        var timedOut = Task.Delay(timeout, node.Time, timeoutCts.Token);
        var waiter = new ChannelWaiter(options.MaxPublications);
        var hub = node.Hub;
        var registered = new List<string>(channels.Count);
        hub.Waiters.PollStarted();
        try
        {
            foreach (var channel in channels)
            {
                await hub.AddWaiterAsync(channel.Rule.Channel, waiter, aborted).ConfigureAwait(false);
                registered.Add(channel.Rule.Channel);
            }
            var answers = await ReadAllAsync(channels, aborted).ConfigureAwait(false);
            while (true)
            {
                if (answers.Exists(a => a.Answer.IsNews))
                {
                    return answers;
                }
                var woken = await Task.WhenAny(waiter.Signaled, timedOut, stop).ConfigureAwait(false);
                aborted.ThrowIfCancellationRequested();
                if (woken != waiter.Signaled)
                {
                    // Timed out or draining: the positions stand, the client polls again.
                    return answers;
                }
                var (arrived, mustRead) = waiter.Rearm();
                answers = (mustRead ? null : Continue(answers, arrived))
                    ?? await ReadAllAsync(channels, aborted).ConfigureAwait(false);
            }
        }
        finally
        {
            await timeoutCts.CancelAsync().ConfigureAwait(false);
            foreach (var channel in registered)
            {
                try
                {
                    await hub.RemoveWaiterAsync(channel, waiter, CancellationToken.None).ConfigureAwait(false);
                }
                catch (ProtocolException e)
                {
                    // The engine is down: its subscription goes with the connection; nothing else holds on to it.
                    Log.RemoveWaiterFailed(node.Logger, channel, e.Message);
                }
            }
            hub.Waiters.PollEnded();
        }
    }

    private static DateTimeOffset? Earliest(DateTimeOffset? a, DateTimeOffset? b)
        => a is null ? b : b is null ? a : a < b ? a : b;

    private static TimeSpan CheckTimeout(long? timeoutMs, TimeSpan max)
    {
        if (timeoutMs is null)
        {
            return max;
        }
        var maxMs = (long)max.TotalMilliseconds;
        if (timeoutMs < 0 || timeoutMs > maxMs)
        {
            throw ProtocolException.BadRequest($"timeout_ms must be between 0 and {maxMs}");
        }
        return TimeSpan.FromMilliseconds(timeoutMs.Value);
    }

    // The connection token, checked on every poll exactly as at connect: signature, claims, revocation, expiry.
    private async Task<(string User, RawJson Info, DateTimeOffset? ExpiresAt)> ValidateConnectionAsync(string? token, CancellationToken ct)
    {
        if (string.IsNullOrEmpty(token))
        {
            if (!node.Options.Client.AllowAnonymousConnectWithoutToken)
            {
                throw InvalidToken("token required");
            }
            return ("", default, null);
        }
        ConnectToken validated;
        try
        {
            validated = await node.Tokens.ValidateConnectTokenAsync(token, ct).ConfigureAwait(false);
        }
        catch (TokenException e) when (e.Error == TokenError.Expired)
        {
            throw TokenExpired();
        }
        catch (TokenException e)
        {
            Log.InvalidToken(node.Logger, e.Message);
            throw InvalidToken("invalid token");
        }
        if (validated.ExpireAt is { } expireAt && expireAt <= node.Time.GetUtcNow())
        {
            throw TokenExpired();
        }
        return (validated.User, validated.Info, validated.ExpireAt);
    }

    // A channel is authorized like a client-side subscribe, and must have a stream.
    private async Task<PolledChannel> AuthorizeAsync(string name, LongPollPosition? position, ClientContext context, CancellationToken ct)
    {
        var rule = node.Policy.Resolve(name);
        if (!rule.Options.HasHistory)
        {
            throw new ProtocolException(ErrorCodes.NotAvailable, $"channel {name} keeps no history: it cannot be long-polled");
        }
        StreamPosition? since = null;
        if (position is { Epoch: not null } or { Offset: not null })
        {
            if (string.IsNullOrEmpty(position.Epoch))
            {
                throw ProtocolException.BadRequest($"channels.{name}: an offset needs its epoch");
            }
            since = new StreamPosition { Epoch = position.Epoch, Offset = position.Offset ?? 0 };
        }
        DateTimeOffset? tokenExpiresAt = null;
        if (!string.IsNullOrEmpty(position?.Token))
        {
            tokenExpiresAt = await ValidateSubscriptionTokenAsync(position.Token, rule.Channel, context.User, ct).ConfigureAwait(false);
        }
        else if (!ChannelPolicy.CanSubscribeWithoutToken(rule, context.User))
        {
            throw new ProtocolException(ErrorCodes.PermissionDenied, $"permission denied: {name}");
        }
        if (node.ChannelAuthorizers.Length > 0)
        {
            var request = new ChannelRequest(ChannelOperation.Subscribe, rule.Channel, rule.Namespace, default, context);
            foreach (var authorizer in node.ChannelAuthorizers)
            {
                var decision = await authorizer.AuthorizeAsync(request, ct).ConfigureAwait(false);
                if (decision.Error is { } error)
                {
                    throw new ProtocolException(error.Code, error.Message, error.Temporary);
                }
            }
        }
        return new PolledChannel(rule, since, tokenExpiresAt);
    }

    private async Task<DateTimeOffset?> ValidateSubscriptionTokenAsync(string token, string channel, string user, CancellationToken ct)
    {
        SubscribeToken validated;
        try
        {
            validated = await node.Tokens.ValidateSubscribeTokenAsync(token, ct).ConfigureAwait(false);
        }
        catch (TokenException e) when (e.Error == TokenError.Expired)
        {
            throw TokenExpired();
        }
        catch (TokenException e)
        {
            Log.InvalidToken(node.Logger, e.Message);
            throw InvalidToken("invalid subscription token");
        }
        if (validated.Channel != channel || validated.User != user)
        {
            throw InvalidToken("subscription token is for another channel or user");
        }
        if (validated.ExpireAt is { } expireAt && expireAt <= node.Time.GetUtcNow())
        {
            throw TokenExpired();
        }
        return validated.ExpireAt;
    }

    private static ProtocolException InvalidToken(string message) => new(DisconnectCodes.InvalidToken, message);

    private static ProtocolException TokenExpired() => new(ErrorCodes.TokenExpired, "token expired");

    private async Task<List<(string Channel, LongPollChannelAnswer Answer)>> ReadAllAsync(List<PolledChannel> channels, CancellationToken ct)
    {
        var reads = new Task<LongPollChannelAnswer>[channels.Count];
        for (var i = 0; i < channels.Count; i++)
        {
            reads[i] = ReadAsync(channels[i], ct);
        }
        var results = await Task.WhenAll(reads).ConfigureAwait(false);
        var answers = new List<(string, LongPollChannelAnswer)>(channels.Count);
        for (var i = 0; i < channels.Count; i++)
        {
            answers.Add((channels[i].Rule.Channel, results[i]));
        }
        return answers;
    }

    // What follows the client's position in the stream, all of it contiguous from the position
    // on, or recovered: false with the current top — never a silent gap.
    private async Task<LongPollChannelAnswer> ReadAsync(PolledChannel channel, CancellationToken ct)
    {
        var metaTtl = channel.Rule.Options.HistoryMetaTtl;
        var name = channel.Rule.Channel;
        if (channel.Since is not { } since)
        {
            var top = await node.Broker.HistoryAsync(name, new HistoryQuery { Limit = 0, MetaTtl = metaTtl }, ct).ConfigureAwait(false);
            return new LongPollChannelAnswer { Epoch = top.Position.Epoch, Offset = top.Position.Offset };
        }
        HistoryPage page;
        try
        {
            page = await node.Broker.HistoryAsync(name, new HistoryQuery
            {
                Since = since,
                Limit = node.Options.LongPoll.MaxPublications,
                MetaTtl = metaTtl,
            }, ct).ConfigureAwait(false);
        }
        catch (ProtocolException e) when (e.Code == ErrorCodes.UnrecoverablePosition)
        {
            // Another epoch: the stream the client read was lost.
            var top = await node.Broker.HistoryAsync(name, new HistoryQuery { Limit = 0, MetaTtl = metaTtl }, ct).ConfigureAwait(false);
            return NotRecovered(top.Position);
        }
        var position = page.Position;
        if (since.Offset == position.Offset)
        {
            return new LongPollChannelAnswer { Epoch = since.Epoch, Offset = since.Offset, Recovered = true };
        }
        var publications = page.Publications;
        if (since.Offset > position.Offset || publications.Count == 0 || publications[0].Offset != since.Offset + 1)
        {
            // Past the top (not a position this stream gave), or what followed it has been
            // trimmed or has expired from history.
            return NotRecovered(position);
        }
        for (var i = 1; i < publications.Count; i++)
        {
            if (publications[i].Offset != publications[i - 1].Offset + 1)
            {
                return NotRecovered(position);
            }
        }
        return new LongPollChannelAnswer
        {
            Epoch = position.Epoch,
            Offset = publications[^1].Offset,
            Recovered = true,
            Publications = publications,
        };
    }

    /// <summary>
    /// The answers after a wake, from what the broker delivered while the poll waited (the waiter
    /// was registered before the streams were read, so nothing published since the read is
    /// missing from it). Null when that does not continue every position exactly — another
    /// epoch, or a gap — and the streams must be read instead. Publications the read already
    /// covered (offset at or below the position) and those kept out of history (offset 0) are skipped.
    /// </summary>
    private static List<(string Channel, LongPollChannelAnswer Answer)>? Continue(
        List<(string Channel, LongPollChannelAnswer Answer)> answers, Dictionary<string, List<Publication>>? arrived)
    {
        if (arrived is null)
        {
            return answers;
        }
        var next = new List<(string, LongPollChannelAnswer)>(answers.Count);
        foreach (var (channel, answer) in answers)
        {
            if (!arrived.TryGetValue(channel, out var publications))
            {
                next.Add((channel, answer));
                continue;
            }
            var offset = answer.Offset;
            var fresh = new List<Publication>(publications.Count);
            foreach (var publication in publications)
            {
                if (publication.Offset <= offset)
                {
                    continue;
                }
                if (publication.Offset != offset + 1 || publication.Epoch != answer.Epoch)
                {
                    return null;
                }
                fresh.Add(publication);
                offset = publication.Offset;
            }
            next.Add((channel, fresh.Count == 0 ? answer : new LongPollChannelAnswer
            {
                Epoch = answer.Epoch,
                Offset = offset,
                Recovered = true,
                Publications = fresh,
            }));
        }
        return next;
    }

    private LongPollChannelAnswer NotRecovered(StreamPosition position)
    {
        node.Metrics.Recovery(false);
        return new LongPollChannelAnswer { Epoch = position.Epoch, Offset = position.Offset, Recovered = false };
    }

    private sealed record PolledChannel(ChannelRule Rule, StreamPosition? Since, DateTimeOffset? TokenExpiresAt);

    private static partial class Log
    {
        [LoggerMessage(EventId = 160, Level = LogLevel.Information, Message = "Long poll refused: {Reason}")]
        public static partial void InvalidToken(ILogger logger, string reason);

        [LoggerMessage(EventId = 161, Level = LogLevel.Warning, Message = "Long poll: leaving {Channel} in the broker failed: {Error}")]
        public static partial void RemoveWaiterFailed(ILogger logger, string channel, string error);
    }
}
