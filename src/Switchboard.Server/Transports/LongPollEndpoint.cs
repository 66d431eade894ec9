using System.Buffers;
using System.Text.Json;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Logging;
using Switchboard.Auth;
using Switchboard.Protocol;
using Switchboard.Sessions;

namespace Switchboard.Server.Transports;

/// <summary>
/// Maps <c>POST /connection/long_poll</c> (and its CORS preflight): the HTTP side of the long
/// polling transport — origin check, CORS, drain and connection cap, the body limit, error
/// statuses. The polling itself is <see cref="LongPoll"/>. See docs/long-polling.md.
/// </summary>
internal static partial class LongPollEndpoint
{
    public const string Path = "/connection/long_poll";

    public static void MapLongPollTransport(this WebApplication app)
    {
        var poll = new LongPoll(app.Services.GetRequiredService<Node>());
        app.MapPost(Path, (HttpContext context, Node node, OriginList origins) => HandleAsync(context, node, poll, origins))
            .ExcludeFromDescription()
            .RequireRateLimiting(RateLimitPolicies.LongPoll);
        // The CORS preflight of a cross-site page (a JSON body is not a "simple" request).
        app.MapMethods(Path, [HttpMethods.Options], (HttpContext context, OriginList origins) => CrossOrigin.Admit(context, origins, "POST"))
            .ExcludeFromDescription();
    }

    private static async Task HandleAsync(HttpContext context, Node node, LongPoll poll, OriginList origins)
    {
        var response = context.Response;
        response.Headers.CacheControl = "no-store";
        if (!context.IsOriginAllowed(origins))
        {
            // A page of another site may not read a user's channels in their name.
            node.Metrics.Refused("origin");
            await WriteErrorAsync(context, node, StatusCodes.Status403Forbidden, ErrorCodes.PermissionDenied, "origin not allowed", false).ConfigureAwait(false);
            return;
        }
        CrossOrigin.AllowOrigin(context);
        if (node.RefuseReason() is { } reason)
        {
            // Draining or at the node's connection cap: poll another node (or later).
            node.Metrics.Refused(reason);
            response.Headers.RetryAfter = "1";
            var (code, message) = reason == "draining" ? (DisconnectCodes.Shutdown, "shutdown") : ((uint)ErrorCodes.LimitExceeded, "node connection limit");
            await WriteErrorAsync(context, node, StatusCodes.Status503ServiceUnavailable, code, message, true).ConfigureAwait(false);
            return;
        }
        var maxBody = node.Options.LongPoll.MaxBodyBytes;
        List<(string Channel, LongPollChannelAnswer Answer)> answer;
        try
        {
            var body = await ReadBodyAsync(context.Request, maxBody, context.RequestAborted).ConfigureAwait(false);
            if (body is null)
            {
                await WriteErrorAsync(context, node, StatusCodes.Status413PayloadTooLarge, ErrorCodes.LimitExceeded, $"request body larger than {maxBody} bytes", false).ConfigureAwait(false);
                return;
            }
            node.Metrics.BytesIn(LongPoll.TransportName, body.Length);
            var request = LongPollJson.ParseRequest(body);
            answer = await poll.PollAsync(request, node.DrainStarted, context.RequestAborted).ConfigureAwait(false);
        }
        catch (ProtocolException e)
        {
            await WriteErrorAsync(context, node, StatusFor(e.Code), e.Code, e.Message, e.Temporary).ConfigureAwait(false);
            return;
        }
        catch (Exception e) when (e is OperationCanceledException or ConnectionAbortedException or IOException or BadHttpRequestException
            && context.RequestAborted.IsCancellationRequested)
        {
            return; // the client went away: nobody to answer
        }
#pragma warning disable CA1031 // one failed poll answers 500 and harms no one else
        catch (Exception e)
#pragma warning restore CA1031
        {
            Log.PollFailed(node.Logger, e);
            await WriteErrorAsync(context, node, StatusCodes.Status500InternalServerError, ErrorCodes.Internal, "internal server error", true).ConfigureAwait(false);
            return;
        }
        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = "application/json";
        await using var writer = new Utf8JsonWriter(response.BodyWriter);
        LongPollJson.WriteAnswer(writer, answer);
        try
        {
            await writer.FlushAsync(context.RequestAborted).ConfigureAwait(false);
        }
        catch (Exception e) when (e is OperationCanceledException or ConnectionAbortedException or IOException && context.RequestAborted.IsCancellationRequested)
        {
            return; // the client went away while the answer was on its way: it polls again from its old positions
        }
        node.Metrics.BytesOut(LongPoll.TransportName, writer.BytesCommitted);
    }

    /// <summary>The HTTP status of a refused poll (the table in docs/long-polling.md).</summary>
    public static int StatusFor(uint code) => code switch
    {
        ErrorCodes.BadRequest or ErrorCodes.LimitExceeded or ErrorCodes.UnknownChannel or ErrorCodes.NotAvailable => StatusCodes.Status400BadRequest,
        DisconnectCodes.InvalidToken or ErrorCodes.TokenExpired or ErrorCodes.Unauthorized => StatusCodes.Status401Unauthorized,
        ErrorCodes.TooManyRequests => StatusCodes.Status429TooManyRequests,
        ErrorCodes.Internal => StatusCodes.Status503ServiceUnavailable,
        _ => StatusCodes.Status403Forbidden, // permission denied, and an authorizer's own refusals
    };

    // The whole body, or null past the limit (checked on Content-Length first, then while reading).
    private static async Task<byte[]?> ReadBodyAsync(HttpRequest request, int maxBytes, CancellationToken ct)
    {
        if (request.ContentLength > maxBytes)
        {
            return null;
        }
        var reader = request.BodyReader;
        while (true)
        {
            var result = await reader.ReadAsync(ct).ConfigureAwait(false);
            var buffer = result.Buffer;
            if (buffer.Length > maxBytes)
            {
                reader.AdvanceTo(buffer.Start, buffer.End);
                return null;
            }
            if (result.IsCompleted)
            {
                var body = buffer.ToArray();
                reader.AdvanceTo(buffer.End);
                return body;
            }
            reader.AdvanceTo(buffer.Start, buffer.End);
        }
    }

    private static async Task WriteErrorAsync(HttpContext context, Node node, int status, uint code, string message, bool temporary)
    {
        var response = context.Response;
        response.StatusCode = status;
        response.ContentType = "application/json";
        await using var writer = new Utf8JsonWriter(response.BodyWriter);
        LongPollJson.WriteError(writer, code, message, temporary);
        try
        {
            await writer.FlushAsync(context.RequestAborted).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            return;
        }
        node.Metrics.BytesOut(LongPoll.TransportName, writer.BytesCommitted);
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 162, Level = LogLevel.Error, Message = "A long poll failed")]
        public static partial void PollFailed(ILogger logger, Exception error);
    }
}
